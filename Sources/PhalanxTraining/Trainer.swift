// The training loop: batches → forward → loss → backward → optimizer step, with
// evaluation, metrics, checkpoints, early stopping and exact resume.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxDistributed
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
    /// Train on these samples of the training split (indices after the validation
    /// split; repeats allowed) instead of all of it: a bagging member's bootstrap
    /// sample or a boosting round's resample. Normalisation is still fitted on the whole
    /// split, so every member of an ensemble sees its inputs scaled alike.
    public var trainIndices: [Int]?
    /// Put before every printed line (`[member-2] `), when several runs share one terminal.
    public var linePrefix = ""
    public init() {}
}

/// Trains one experiment: alone, or as one rank of a data-parallel job.
///
/// Every rank runs this same loop on its slice of each global batch; the gradient
/// reducer sums the ranks' gradients (each normalised by the global batch) before the
/// optimizer step, so N ranks follow the trajectory of one process. Rank 0 prints,
/// writes metrics, checkpoints and the summary.
public final class Trainer {
    public let loaded: LoadedConfig
    public let options: TrainOptions
    public let communicator: Communicator
    private var config: ExperimentConfig { loaded.config }
    private let progress: ProgressReporter

    public init(_ loaded: LoadedConfig, options: TrainOptions = TrainOptions(),
                communicator: Communicator = LocalCommunicator()) {
        self.loaded = loaded
        self.options = options
        self.communicator = communicator
        progress = ProgressReporter(logEvery: loaded.config.train.logEvery, interactive: options.interactive,
                                    quiet: options.quiet || communicator.rank != 0, prefix: options.linePrefix)
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
        let comm = communicator, rank = comm.rank, world = comm.size, isRoot = rank == 0
        if t.batchSize % world != 0 {
            throw fail("train.batch_size", "the global batch of \(t.batchSize) does not split evenly over \(world) ranks; "
                + "choose a multiple of \(world)")
        }
        guard let kind = LossKind(rawValue: t.loss == "softmax_cross_entropy" ? "cross_entropy" : t.loss) else {
            throw fail("train.loss", "unknown loss '\(t.loss)'; known: \(LossKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let built = try ModelBuilder.build(config.model, seed: config.seed, loss: kind, fail: fail)
        let model = built.network
        let loss = kind.makeLoss()
        let optimizer = try OptimizerFactory.make(t, fail: fail)

        let store = CheckpointStore(run: config.name, runs: URL(fileURLWithPath: config.checkpoint.directory),
                                    keep: config.checkpoint.keep)
        let resumed = options.resume
            ? try SequenceRun.choose(store, as: TrainerState.self, progress: progress, communicator: comm) : nil
        var data = try TrainingData.load(config, normalization: resumed?.trainer.normalization, fail: fail)
        if let indices = options.trainIndices { data = try data.training(on: indices) }
        let classes = data.train.classCount
        if kind == .crossEntropy && built.outputShape != [classes] {
            throw fail("model.layers", "the model outputs \(describe(built.outputShape)) per sample but the data has \(classes) classes")
        }
        try agreeAcrossRanks(data)
        var sampler = try ShardedSampler(sampleCount: data.train.count, globalBatchSize: t.batchSize,
                                         rank: rank, worldSize: world, seed: config.seed, dropLast: t.dropLast)
        let schedule = try ScheduleFactory.make(t, batchesPerEpoch: sampler.batchesPerEpoch, fail: fail)

        var state = TrainerState(epoch: 0, step: 0, sampler: sampler.state, dropoutRNG: built.dropouts.map(\.rng),
                                 normalization: data.normalization, config: config, configHash: config.hash,
                                 worldSize: world, bestAccuracy: nil, bestStep: nil, epochsWithoutImprovement: 0,
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
        state.worldSize = world
        if !isRoot {
            // Each rank its own dropout masks (rank 0 keeps the stream a checkpoint saves).
            for (i, d) in built.dropouts.enumerated() {
                d.rng = RNG(seed: config.seed &+ UInt64(rank) &* 0x9E37_79B9_7F4A_7C15, stream: 5000 + UInt64(i))
            }
        }
        let metrics = isRoot ? try MetricsLog(url: runDirectory.appendingPathComponent("metrics.jsonl"),
                                              keepThroughStep: resumed.map { $0.step } ?? (options.resume ? 0 : nil)) : nil
        let parameters = model.parameters
        // One model on every rank: rank 0's weights and statistics win.
        try broadcastModel(model)
        var reducer: GradientReducer?
        if world > 1 {
            let r = GradientReducer(communicator: try comm.split(color: 0, key: rank), parameters: parameters,
                                    bucketBytes: Int(config.distributed.bucketMB * 1_048_576),
                                    overlap: config.distributed.overlap)
            model.onGradientsReady = { r.ready($0) }
            reducer = r
            if config.distributed.syncBatchnorm {
                for bn in layers(of: model).compactMap({ $0 as? BatchNorm }) {
                    bn.reduceStatistics = { sums in
                        do { try comm.allreduceSum(sums) } catch { comm.abort(code: 1) }
                    }
                }
            }
        }
        progress.say("\(config.name): \(ModelState.parameterCount(ModelState.tensors(of: model))) parameters, "
            + "\(data.train.count) training samples\(data.validation.map { ", \($0.count) validation" } ?? ""), "
            + "\(data.test.count) test; \(t.epochs) epochs of \(sampler.batchesPerEpoch) batches of \(t.batchSize); "
            + "\(Parallel.threads) threads" + (world > 1 ? " on each of \(world) ranks" : ""))

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
                try reducer?.finish()
                if t.clipNorm > 0 { clipGradientNorm(parameters, maxNorm: t.clipNorm) }
                optimizer.learningRate = schedule.rate(at: state.step, base: t.optimizer.lr)
                optimizer.step(parameters)
                state.step += 1
                // l is this rank's part of the global batch's mean loss.
                lossSum += Double(l) * Double(batch.globalCount)
                correct += correctCount(logits: logits, labels: batch.labels)
                seen += batch.count
                lastState = batch.resumeState
                let secs = Date().timeIntervalSince(epochStart)
                progress.step(epoch: epoch, epochs: t.epochs, batch: batch.index + 1, batches: sampler.batchesPerEpoch,
                              samplesPerSec: Double(seen * world) / max(secs, 1e-9),
                              loss: lossSum / Double(max(seen, 1)),  // this rank's estimate of the mean
                              lr: optimizer.learningRate, elapsed: secs)
            }
            let totals = try comm.allreduceSum([lossSum, Double(correct), Double(seen)])
            lossSum = totals[0]; correct = Int(totals[1]); seen = Int(totals[2])
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
            metrics?.append(trainRecord)

            var line = String(format: "epoch %d/%d  train loss %.4f acc %.4f  %.0f img/s", epoch, t.epochs,
                              trainRecord.loss, trainRecord.accuracy ?? 0, rate)
            var improved = false
            if let validation = data.validation {
                let v = try evaluate(model, on: validation, normalization: data.normalization, loss: loss,
                                     kind: kind, batchSize: t.batchSize)
                let rec = MetricRecord(step: state.step, epoch: epoch, split: "validation", loss: v.loss,
                                       accuracy: v.accuracy, time: now())
                metrics?.append(rec)
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
            if isRoot && (epoch % max(1, config.checkpoint.everyEpochs) == 0 || epoch == lastEpoch || stopNow || improved) {
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
            let bestURL = store.url(step: best)
            if isRoot {
                let ckpt = try Checkpoint<TrainerState>.load(from: bestURL, as: TrainerState.self)
                try ModelState.apply(ckpt.model, to: model, file: ckpt.directory.path)
            }
            try broadcastModel(model)
            progress.say("restored the best weights (step \(best), validation accuracy \(String(format: "%.4f", state.bestAccuracy ?? 0)))")
            finalCheckpoint = bestURL
        }
        let test = try evaluate(model, on: data.test, normalization: data.normalization, loss: loss,
                                kind: kind, batchSize: t.batchSize)
        metrics?.append(MetricRecord(step: state.step, epoch: state.epoch, split: "test", loss: test.loss,
                                    accuracy: test.accuracy, time: now()))
        let summary = TrainingSummary(
            name: config.name, epochs: state.epoch, steps: state.step, seconds: now(),
            trainSamplesPerSec: trainSeconds > 0 ? Double(trainSamples) / trainSeconds : 0,
            testLoss: test.loss, testAccuracy: test.accuracy, validationAccuracy: state.bestAccuracy,
            checkpoint: finalCheckpoint?.path ?? "", stoppedEarly: stoppedEarly)
        if isRoot {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(summary).write(to: runDirectory.appendingPathComponent("summary.json"))
        }
        progress.say(String(format: "test accuracy %.4f (loss %.4f) after %d epochs, %d steps, %@ — %.0f img/s",
                            test.accuracy, test.loss, state.epoch, state.step, ProgressReporter.clock(summary.seconds),
                            summary.trainSamplesPerSec))
        progress.say("outputs: \(runDirectory.path)/ (metrics.jsonl, summary.json, checkpoints/)")
        if let c = finalCheckpoint { progress.say("evaluate: phalanx evaluate --checkpoint \(c.path)") }
        return summary
    }

    // MARK: Ranks

    /// Every rank must run the same config on the same data: a difference is an error on
    /// every rank (no rank waits for a collective the others never reach).
    private func agreeAcrossRanks(_ data: TrainingData) throws {
        guard communicator.size > 1 else { return }
        let mine = "\(config.hash) \(data.train.count) \(data.validation?.count ?? 0) \(data.test.count)"
        let all = try communicator.allgather(Array(mine.utf8)).map { String(decoding: $0, as: UTF8.self) }
        if let differs = all.firstIndex(where: { $0 != all[0] }) {
            let what = all[0].split(separator: " ").first == all[differs].split(separator: " ").first
                ? "data (training/validation/test sizes \(all[0].split(separator: " ").dropFirst().joined(separator: "/")) on rank 0, "
                    + "\(all[differs].split(separator: " ").dropFirst().joined(separator: "/")) on rank \(differs))"
                : "config (hash \(all[0].split(separator: " ")[0]) on rank 0, \(all[differs].split(separator: " ")[0]) on rank \(differs))"
            throw TrainingError.ranksDisagree(what)
        }
    }

    /// Copies rank 0's parameters and buffers to every rank.
    private func broadcastModel(_ model: Layer) throws {
        guard communicator.size > 1 else { return }
        for t in model.parameters.map(\.value) + model.buffers.map(\.value) {
            try communicator.broadcast(UnsafeMutableBufferPointer(start: t.data, count: t.count), root: 0)
        }
    }

    /// Evaluation over this rank's shard, with sums and counts reduced: exact, no padding.
    private func evaluate(_ model: Layer, on dataset: Dataset, normalization: NormalizationStats?,
                          loss: Loss, kind: LossKind, batchSize: Int) throws -> EvaluationResult {
        let local = try Evaluation.run(model, on: dataset, normalization: normalization, loss: loss, kind: kind,
                                       batchSize: max(1, batchSize / communicator.size),
                                       rank: communicator.rank, worldSize: communicator.size)
        let s = try communicator.allreduceSum([local.lossSum, Double(local.correct), Double(local.count)])
        let count = Int(s[2])
        return EvaluationResult(loss: s[0] / Double(max(count, 1)), accuracy: s[1] / Double(max(count, 1)),
                                count: count, lossSum: s[0], correct: Int(s[1]))
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
    case ranksDisagree(String)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, epoch):
            "the loss became NaN or infinite at step \(step) (epoch \(epoch)); lower train.optimizer.lr or set train.clip_norm"
        case let .ranksDisagree(what):
            "the ranks do not run the same experiment: their \(what) differ; start every rank with the same config and data"
        }
    }
}

/// Every layer of a model, containers included, depth first.
public func layers(of root: Layer) -> [Layer] {
    var out: [Layer] = [root]
    switch root {
    case let s as Sequential: for c in s.children { out += layers(of: c.layer) }
    case let r as Residual: out += layers(of: r.body) + (r.shortcut.map { layers(of: $0) } ?? [])
    case let c as Concat: for b in c.branches { out += layers(of: b.layer) }
    case let a as Auxiliary: out += layers(of: a.head)
    default: break
    }
    return out
}
