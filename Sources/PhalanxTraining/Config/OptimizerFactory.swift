// Maps the train section of a config to an optimizer and a learning-rate schedule,
// checking the ranges so a bad value names its key instead of stopping a run.
import PhalanxNN

/// Makes the optimizer a config names.
public enum OptimizerFactory {
    public static func make(_ t: TrainConfig, fail: (String, String) -> ConfigError) throws(ConfigError) -> Optimizer {
        let o = t.optimizer
        if !(o.lr > 0 && o.lr.isFinite) { throw fail("train.optimizer.lr", "must be a positive number, got \(o.lr)") }
        if !(o.eps > 0) { throw fail("train.optimizer.eps", "must be positive, got \(o.eps)") }
        let reg = Regularization(l1: t.l1, l2: t.l2)
        switch o.kind {
        case "sgd":
            if !(o.momentum >= 0 && o.momentum < 1) { throw fail("train.optimizer.momentum", "must lie in [0, 1), got \(o.momentum)") }
            if o.nesterov && o.momentum == 0 { throw fail("train.optimizer.nesterov", "needs a momentum above 0") }
            return SGD(learningRate: o.lr, momentum: o.momentum, nesterov: o.nesterov, regularization: reg)
        case "adagrad":
            return AdaGrad(learningRate: o.lr, epsilon: o.eps, regularization: reg)
        case "rmsprop":
            if !(o.alpha > 0 && o.alpha < 1) { throw fail("train.optimizer.alpha", "must lie in (0, 1), got \(o.alpha)") }
            return RMSProp(learningRate: o.lr, decay: o.alpha, epsilon: o.eps, regularization: reg)
        case "adam":
            if !(o.beta1 >= 0 && o.beta1 < 1) { throw fail("train.optimizer.beta1", "must lie in [0, 1), got \(o.beta1)") }
            if !(o.beta2 >= 0 && o.beta2 < 1) { throw fail("train.optimizer.beta2", "must lie in [0, 1), got \(o.beta2)") }
            return Adam(learningRate: o.lr, beta1: o.beta1, beta2: o.beta2, epsilon: o.eps, regularization: reg)
        default:
            throw fail("train.optimizer.kind", "unknown optimizer '\(o.kind)'; known: sgd, adagrad, rmsprop, adam")
        }
    }
}

/// Makes the learning-rate schedule a config names, in optimizer steps.
public enum ScheduleFactory {
    public static func make(_ t: TrainConfig, batchesPerEpoch: Int, fail: (String, String) -> ConfigError) throws(ConfigError) -> LearningRateSchedule {
        let s = t.schedule
        let total = t.epochs * batchesPerEpoch
        if s.warmupSteps < 0 { throw fail("train.schedule.warmup_steps", "must not be negative") }
        switch s.kind {
        case "constant":
            return LearningRateSchedule(.constant, warmupSteps: s.warmupSteps)
        case "step":
            if s.stepEpochs < 1 { throw fail("train.schedule.step_epochs", "must be at least 1") }
            if !(s.gamma > 0) { throw fail("train.schedule.gamma", "must be positive") }
            return LearningRateSchedule(.step(every: s.stepEpochs * batchesPerEpoch, gamma: s.gamma), warmupSteps: s.warmupSteps)
        case "cosine":
            if !(s.minLR >= 0) { throw fail("train.schedule.min_lr", "must not be negative") }
            if s.warmupSteps >= total { throw fail("train.schedule.warmup_steps", "warm-up of \(s.warmupSteps) steps leaves none of the \(total) steps to decay over") }
            return LearningRateSchedule(.cosine(steps: total - s.warmupSteps, minimum: s.minLR), warmupSteps: s.warmupSteps)
        default:
            throw fail("train.schedule.kind", "unknown schedule '\(s.kind)'; known: constant, step, cosine")
        }
    }
}
