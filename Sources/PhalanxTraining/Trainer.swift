// The training loop: batches → forward → loss → backward → optimizer step, with
// evaluation, metrics, checkpoints, early stopping and exact resume.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN

/// What a finished run reports.
public struct TrainingSummary: Codable, Sendable {
    public var name: String
    public var epochs: Int
    public var steps: Int
    public var seconds: Double
    public var trainSamplesPerSec: Double
    public var testLoss: Double
    public var testAccuracy: Double
    public var validationAccuracy: Double?
    /// The checkpoint whose weights gave `testAccuracy`.
    public var checkpoint: String
    public var stoppedEarly: Bool

    enum CodingKeys: String, CodingKey {
        case name, epochs, steps, seconds, checkpoint
        case trainSamplesPerSec = "train_samples_per_sec", testLoss = "test_loss"
        case testAccuracy = "test_accuracy", validationAccuracy = "validation_accuracy"
        case stoppedEarly = "stopped_early"
    }
}

/// Options of one `train` invocation that are not part of the experiment.
public struct TrainOptions: Sendable {
    /// Continue from the newest good checkpoint of the run.
    public var resume = false
    /// Stop after this many epochs in total (the schedule still plans for all of them),
    /// as an interrupted run would.
    public var stopAfterEpochs: Int?
    /// Print nothing (tests).
    public var quiet = false
    /// Force plain progress lines (true) or the bar (false); nil: bar on a terminal.
    public var interactive: Bool?
    public init() {}
}

/// Trains one experiment in this process.
public final class Trainer {
    public let loaded: LoadedConfig
    public let options: TrainOptions
    private var config: ExperimentConfig { loaded.config }
    private let progress: ProgressReporter

    public init(_ loaded: LoadedConfig, options: TrainOptions = TrainOptions()) {
        self.loaded = loaded
        self.options = options
        progress = ProgressReporter(logEvery: loaded.config.train.logEvery, interactive: options.interactive,
                                    quiet: options.quiet)
    }

    /// The run's output directory, `<checkpoint.directory>/<name>`.
    public var runDirectory: URL {
        URL(fileURLWithPath: config.checkpoint.directory).appendingPathComponent(config.name)
    }

    /// Runs training to the end (or early stop) and evaluates on the test split.
    @discardableResult
    public func run() throws -> TrainingSummary {
        let t = config.train
        try validate()
        if t.threads > 0 { Parallel.threads = t.threads }
        let fail = loaded.error
        guard let kind = LossKind(rawValue: t.loss == "softmax_cross_entropy" ? "cross_entropy" : t.loss) else {
            throw fail("train.loss", "unknown loss '\(t.loss)'; known: \(LossKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let built = try ModelBuilder.build(config.model, seed: config.seed, loss: kind, fail: fail)
        let model = built.network
        let loss = kind.makeLoss()
        let optimizer = try OptimizerFactory.make(t, fail: fail)

        let store = CheckpointStore(run: config.name, runs: URL(fileURLWithPath: config.checkpoint.directory),
                                    keep: config.checkpoint.keep)
        var resumed: Checkpoint<TrainerState>?
        if options.resume {
            if let point = try store.resume(as: TrainerState.self) {
                for s in point.skipped { progress.say("resume: skipped \(s)") }
                resumed = point.checkpoint
            } else {
                progress.say("resume: no checkpoint in \(store.directory.path); starting fresh")
            }
        }
        let data = try TrainingData.load(config, normalization: resumed?.trainer.normalization, fail: fail)
        let classes = data.train.classCount
        if kind == .crossEntropy && built.outputShape != [classes] {
            throw fail("model.layers", "the model outputs \(describe(built.outputShape)) per sample but the data has \(classes) classes")
        }
        var sampler = try ShardedSampler(sampleCount: data.train.count, globalBatchSize: t.batchSize,
                                         seed: config.seed, dropLast: t.dropLast)
        let schedule = try ScheduleFactory.make(t, batchesPerEpoch: sampler.batchesPerEpoch, fail: fail)

        var state = TrainerState(epoch: 0, step: 0, sampler: sampler.state, dropoutRNG: built.dropouts.map(\.rng),
                                 normalization: data.normalization, config: config, configHash: config.hash,
                                 worldSize: 1, bestAccuracy: nil, bestStep: nil, epochsWithoutImprovement: 0,
                                 elapsed: 0, history: [])
        if let ckpt = resumed {
            try ModelState.apply(ckpt.model, to: model, file: ckpt.directory.appendingPathComponent(CheckpointLayout.model).path)
            let tensors = ckpt.optimizer.entries.mapValues(\.tensor)
            do {
                try optimizer.loadState(tensors, step: ckpt.trainer.step, parameters: model.parameters)
            } catch {
                throw CheckpointError(file: ckpt.directory.appendingPathComponent(CheckpointLayout.optimizer).path,
                                      .io("optimizer state does not fit this model: \(error)"))
            }
            state = ckpt.trainer
            state.config = config
            if ckpt.trainer.configHash != config.hash {
                progress.say("resume: note — the config differs from the one the checkpoint was trained with")
                state.configHash = config.hash
            }
            try sampler.restore(state.sampler)
            for (d, rng) in zip(built.dropouts, state.dropoutRNG) { d.rng = rng }
            progress.say("resumed \(config.name) from \(ckpt.directory.path) (epoch \(state.epoch), step \(state.step))")
        }
        let metrics = try MetricsLog(url: runDirectory.appendingPathComponent("metrics.jsonl"),
                                     keepThroughStep: resumed.map { $0.step } ?? (options.resume ? 0 : nil))
        let parameters = model.parameters
        progress.say("\(config.name): \(ModelState.parameterCount(ModelState.tensors(of: model))) parameters, "
            + "\(data.train.count) training samples\(data.validation.map { ", \($0.count) validation" } ?? ""), "
            + "\(data.test.count) test; \(t.epochs) epochs of \(sampler.batchesPerEpoch) batches of \(t.batchSize); "
            + "\(Parallel.threads) threads")

        let started = Date()
        let elapsedBefore = state.elapsed
        func now() -> Double { elapsedBefore + Date().timeIntervalSince(started) }
        let targets = Tensor(shape: [t.batchSize, classes])
        var stoppedEarly = false
        var lastCheckpoint: URL? = resumed?.directory
        var trainSamples = 0, trainSeconds = 0.0
        let lastEpoch = min(t.epochs, options.stopAfterEpochs ?? t.epochs)

        while state.epoch < lastEpoch {
            let epoch = state.epoch + 1
            let loader = try BatchLoader(dataset: data.train, sampler: sampler, augmentation: data.augmentation,
                                         normalization: data.normalization)
            let epochStart = Date()
            var lossSum = 0.0, correct = 0, seen = 0
            var lastState: ShardedSampler.State?
            for batch in loader {
                model.zeroGradients()
                let target: LossTarget
                if kind == .crossEntropy {
                    target = .labels(batch.labels)
                } else {
                    targets.resize([batch.count, classes])
                    oneHot(batch.labels, classCount: classes, into: targets)
                    target = .values(targets)
                }
                for aux in built.auxiliaries {
                    aux.target = target
                    aux.normalizer = Float(batch.globalCount)
                }
                let logits = model.forward(batch.images, mode: .training)
                let (mainLoss, gradient) = loss.evaluate(logits, target: target, weights: nil,
                                                         normalizer: Float(batch.globalCount))
                // The training objective: the main loss plus the auxiliary classifiers' weighted losses.
                let l = built.auxiliaries.reduce(mainLoss) { $0 + $1.lastLoss }
                guard l.isFinite else {
                    throw TrainingError.nonFiniteLoss(step: state.step + 1, epoch: epoch)
                }
                _ = model.backward(gradient)
                if t.clipNorm > 0 { clipGradientNorm(parameters, maxNorm: t.clipNorm) }
                optimizer.learningRate = schedule.rate(at: state.step, base: t.optimizer.lr)
                optimizer.step(parameters)
                state.step += 1
                lossSum += Double(l) * Double(batch.count)
                correct += correctCount(logits: logits, labels: batch.labels)
                seen += batch.count
                lastState = batch.resumeState
                let secs = Date().timeIntervalSince(epochStart)
                progress.step(epoch: epoch, epochs: t.epochs, batch: batch.index + 1, batches: sampler.batchesPerEpoch,
                              samplesPerSec: Double(seen) / max(secs, 1e-9), loss: lossSum / Double(max(seen, 1)),
                              lr: optimizer.learningRate, elapsed: secs)
            }
            let epochSeconds = Date().timeIntervalSince(epochStart)
            trainSamples += seen; trainSeconds += epochSeconds
            if let s = lastState { try sampler.restore(s) }
            sampler.startNextEpoch()
            state.epoch = epoch
            state.sampler = sampler.state
            state.dropoutRNG = built.dropouts.map(\.rng)
            let rate = Double(seen) / max(epochSeconds, 1e-9)
            let trainRecord = MetricRecord(step: state.step, epoch: epoch, split: "train", loss: lossSum / Double(max(seen, 1)),
                                           accuracy: Double(correct) / Double(max(seen, 1)),
                                           lr: Double(optimizer.learningRate), samplesPerSec: rate, time: now())
            metrics.append(trainRecord)

            var line = String(format: "epoch %d/%d  train loss %.4f acc %.4f  %.0f img/s", epoch, t.epochs,
                              trainRecord.loss, trainRecord.accuracy ?? 0, rate)
            var improved = false
            if let validation = data.validation {
                let v = try Evaluation.run(model, on: validation, normalization: data.normalization, loss: loss,
                                           kind: kind, batchSize: t.batchSize)
                let rec = MetricRecord(step: state.step, epoch: epoch, split: "validation", loss: v.loss,
                                       accuracy: v.accuracy, time: now())
                metrics.append(rec)
                state.history.append(rec)
                line += String(format: "  val loss %.4f acc %.4f", v.loss, v.accuracy)
                let delta = Double(t.earlyStopping?.minDelta ?? 0)
                if state.bestAccuracy.map({ v.accuracy > $0 + delta }) ?? true {
                    state.bestAccuracy = v.accuracy
                    state.bestStep = state.step
                    state.epochsWithoutImprovement = 0
                    improved = true
                } else {
                    state.epochsWithoutImprovement += 1
                }
            }
            state.elapsed = now()
            progress.say(line + String(format: "  [%@]", ProgressReporter.clock(state.elapsed)))
            let stopNow = t.earlyStopping.map { state.epochsWithoutImprovement >= $0.patience } ?? false
            if epoch % max(1, config.checkpoint.everyEpochs) == 0 || epoch == lastEpoch || stopNow || improved {
                lastCheckpoint = try store.save(step: state.step, model: model, optimizer: optimizer.stateTensors(),
                                                optimizerMetadata: ["kind": optimizer.kind], trainer: state,
                                                best: improved)
            }
            if stopNow {
                progress.say("early stopping: validation accuracy has not improved for \(state.epochsWithoutImprovement) epochs")
                stoppedEarly = true
                break
            }
        }

        // Evaluate the weights the run stands by: the best validation checkpoint when
        // early stopping is on (restored here), else the final weights.
        var finalCheckpoint = lastCheckpoint
        if t.earlyStopping != nil, let best = state.bestStep, best != state.step {
            let ckpt = try Checkpoint<TrainerState>.load(from: store.url(step: best), as: TrainerState.self)
            try ModelState.apply(ckpt.model, to: model, file: ckpt.directory.path)
            progress.say("restored the best weights (step \(best), validation accuracy \(String(format: "%.4f", state.bestAccuracy ?? 0)))")
            finalCheckpoint = ckpt.directory
        }
        let test = try Evaluation.run(model, on: data.test, normalization: data.normalization, loss: loss,
                                      kind: kind, batchSize: t.batchSize)
        metrics.append(MetricRecord(step: state.step, epoch: state.epoch, split: "test", loss: test.loss,
                                    accuracy: test.accuracy, time: now()))
        let summary = TrainingSummary(
            name: config.name, epochs: state.epoch, steps: state.step, seconds: now(),
            trainSamplesPerSec: trainSeconds > 0 ? Double(trainSamples) / trainSeconds : 0,
            testLoss: test.loss, testAccuracy: test.accuracy, validationAccuracy: state.bestAccuracy,
            checkpoint: finalCheckpoint?.path ?? "", stoppedEarly: stoppedEarly)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(summary).write(to: runDirectory.appendingPathComponent("summary.json"))
        progress.say(String(format: "test accuracy %.4f (loss %.4f) after %d epochs, %d steps, %@ — %.0f img/s",
                            test.accuracy, test.loss, state.epoch, state.step, ProgressReporter.clock(summary.seconds),
                            summary.trainSamplesPerSec))
        progress.say("outputs: \(runDirectory.path)/ (metrics.jsonl, summary.json, checkpoints/)")
        if let c = finalCheckpoint { progress.say("evaluate: phalanx evaluate --checkpoint \(c.path)") }
        return summary
    }

    private func validate() throws {
        let t = config.train
        let fail = loaded.error
        if t.epochs < 1 { throw fail("train.epochs", "must be at least 1, got \(t.epochs)") }
        if t.batchSize < 1 { throw fail("train.batch_size", "must be at least 1, got \(t.batchSize)") }
        if t.threads < 0 { throw fail("train.threads", "must not be negative") }
        if t.clipNorm < 0 { throw fail("train.clip_norm", "must not be negative") }
        if t.l1 < 0 { throw fail("train.l1", "must not be negative") }
        if t.l2 < 0 { throw fail("train.l2", "must not be negative") }
        if t.earlyStopping != nil && config.data.validation == 0 {
            throw fail("train.early_stopping", "needs a validation split: set data.validation to a number of held-out samples")
        }
        if config.checkpoint.keep < 1 { throw fail("checkpoint.keep", "must be at least 1") }
        if config.name.isEmpty || config.name.contains("/") { throw fail("name", "must be a non-empty name without '/'") }
    }
}

/// Failures of a run that are not config, data or checkpoint errors.
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int, epoch: Int)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, epoch):
            "the loss became NaN or infinite at step \(step) (epoch \(epoch)); lower train.optimizer.lr or set train.clip_norm"
        }
    }
}
