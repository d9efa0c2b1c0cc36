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
        case "lbfgs", "cg", "newton":
            return try makeClosureOptimizer(t, regularization: reg, fail: fail)
        default:
            throw fail("train.optimizer.kind", "unknown optimizer '\(o.kind)'; known: sgd, adagrad, rmsprop, adam, lbfgs, cg, newton")
        }
    }

    /// L-BFGS, conjugate gradient or Newton–CG, with the ranges of their settings checked.
    static func makeClosureOptimizer(_ t: TrainConfig, regularization reg: Regularization,
                                     fail: (String, String) -> ConfigError) throws(ConfigError) -> Optimizer {
        let o = t.optimizer
        if o.maxIter < 1 { throw fail("train.optimizer.max_iter", "must be at least 1, got \(o.maxIter)") }
        if let e = o.maxEval, e < 1 { throw fail("train.optimizer.max_eval", "must be at least 1, got \(e)") }
        if !(o.toleranceGrad >= 0 && o.toleranceGrad.isFinite) {
            throw fail("train.optimizer.tolerance_grad", "must be a non-negative number, got \(o.toleranceGrad)")
        }
        if !(o.toleranceChange >= 0 && o.toleranceChange.isFinite) {
            throw fail("train.optimizer.tolerance_change", "must be a non-negative number, got \(o.toleranceChange)")
        }
        if t.l1 > 0 {
            throw fail("train.l1", "the L1 penalty has no gradient at 0, which a line search of \(o.kind) cannot step over; use l2")
        }
        if t.clipNorm > 0 {
            throw fail("train.clip_norm", "clipping changes the gradient the line search of \(o.kind) relies on; set it to 0")
        }
        let search: StrongWolfe?
        switch o.lineSearch {
        case "strong_wolfe": search = StrongWolfe(c2: o.kind == "cg" ? 0.1 : 0.9, toleranceChange: o.toleranceChange)
        case "none" where o.kind == "lbfgs": search = nil
        case "none": throw fail("train.optimizer.line_search", "\(o.kind) needs its line search (strong_wolfe); only lbfgs takes 'none'")
        default: throw fail("train.optimizer.line_search", "unknown line search '\(o.lineSearch)'; known: strong_wolfe, none")
        }
        switch o.kind {
        case "lbfgs":
            if o.historySize < 1 { throw fail("train.optimizer.history_size", "must be at least 1, got \(o.historySize)") }
            return LBFGS(learningRate: o.lr, historySize: o.historySize, maxIterations: o.maxIter, maxEvaluations: o.maxEval,
                         toleranceGrad: o.toleranceGrad, toleranceChange: o.toleranceChange, lineSearch: search,
                         regularization: reg)
        case "cg":
            if o.restart < 0 { throw fail("train.optimizer.restart", "must not be negative, got \(o.restart)") }
            return ConjugateGradient(learningRate: o.lr, restart: o.restart, maxIterations: o.maxIter,
                                     maxEvaluations: o.maxEval, toleranceGrad: o.toleranceGrad,
                                     toleranceChange: o.toleranceChange, lineSearch: search ?? StrongWolfe(c2: 0.1),
                                     regularization: reg)
        default:
            if o.cgMaxIter < 1 { throw fail("train.optimizer.cg_max_iter", "must be at least 1, got \(o.cgMaxIter)") }
            if let tol = o.cgTolerance, !(tol > 0 && tol < 1) {
                throw fail("train.optimizer.cg_tolerance", "must lie in (0, 1), got \(tol)")
            }
            if !(o.damping >= 0 && o.damping.isFinite) {
                throw fail("train.optimizer.damping", "must be a non-negative number, got \(o.damping)")
            }
            return NewtonCG(learningRate: o.lr, cgMaxIterations: o.cgMaxIter, cgTolerance: o.cgTolerance, damping: o.damping,
                            maxIterations: o.maxIter, maxEvaluations: o.maxEval, toleranceGrad: o.toleranceGrad,
                            toleranceChange: o.toleranceChange, lineSearch: search ?? StrongWolfe(),
                            regularization: reg)
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
