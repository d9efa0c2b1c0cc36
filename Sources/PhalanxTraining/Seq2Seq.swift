// Encoder–decoder training on generated pairs (`data.dataset: seq2seq`): teacher forcing
// with a per-token cross-entropy that skips padding, greedy decoding for exact-match
// accuracy on validation (each epoch) and test (at the end), checkpoints that carry both
// vocabularies, and `--resume` from the last epoch's checkpoint.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxNN

/// What an encoder–decoder checkpoint's trainer.json holds.
public struct Seq2SeqState: Codable, Sendable {
    public var epoch: Int
    public var step: Int
    public var config: ExperimentConfig
    public var task: String
    public var sourceVocabulary: [String]
    public var targetVocabulary: [String]
    public var maxSourceLength: Int
    public var maxTargetLength: Int
    public var bestExactMatch: Double?
    public var elapsed: Double

    enum CodingKeys: String, CodingKey {
        case epoch, step, config, task, elapsed
        case sourceVocabulary = "source_vocabulary", targetVocabulary = "target_vocabulary"
        case maxSourceLength = "max_source_length", maxTargetLength = "max_target_length"
        case bestExactMatch = "best_exact_match"
    }
}

public struct Seq2SeqSummary: Codable, Sendable {
    public var name: String
    public var attention: Bool
    public var epochs: Int
    public var steps: Int
    public var seconds: Double
    public var validationExactMatch: Double
    public var testExactMatch: Double
    public var testPairs: Int
    public var checkpoint: String

    enum CodingKeys: String, CodingKey {
        case name, attention, epochs, steps, seconds, checkpoint
        case validationExactMatch = "validation_exact_match", testExactMatch = "test_exact_match"
        case testPairs = "test_pairs"
    }
}

/// Trains an encoder–decoder, alone or as one rank of a data-parallel job.
public final class Seq2SeqTrainer {
    public let loaded: LoadedConfig
    public let options: TrainOptions
    private var config: ExperimentConfig { loaded.config }
    private let progress: ProgressReporter
    private let comm: Communicator

    /// A trainer alone, or as one rank of a data-parallel job (see `SequenceRun`).
    public init(_ loaded: LoadedConfig, options: TrainOptions = TrainOptions(),
                communicator: Communicator = LocalCommunicator()) {
        self.loaded = loaded
        self.options = options
        comm = communicator
        progress = ProgressReporter(logEvery: loaded.config.train.logEvery, interactive: options.interactive,
                                    quiet: options.quiet || communicator.rank != 0, unit: "pairs/s")
    }

    /// The task and pairs a config asks for, its values checked.
    static func pairs(_ config: ExperimentConfig, fail: (String, String) -> ConfigError) throws -> SequencePairs {
        let d = config.data
        guard let task = SequenceTask(rawValue: d.task) else {
            throw fail("data.task", "unknown task '\(d.task)'; known: "
                + SequenceTask.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let longest = SequencePairs.maxSourceLength(task)
        guard d.minLength >= 1, d.maxLength >= d.minLength, d.maxLength <= longest else {
            throw fail("data.max_length", "source lengths need 1 ≤ min_length ≤ max_length ≤ \(longest) for \(task.rawValue), "
                + "got \(d.minLength)…\(d.maxLength)")
        }
        guard d.trainPairs > 0 else { throw fail("data.train_pairs", "must be positive") }
        guard d.testPairs > 0 else { throw fail("data.test_pairs", "must be positive") }
        guard d.validation > 0 else { throw fail("data.validation", "an encoder–decoder needs validation pairs (say 1000)") }
        return SequencePairs.generate(task: task, minLength: d.minLength, maxLength: d.maxLength, train: d.trainPairs,
                                      validation: d.validation, test: d.testPairs, seed: config.seed)
    }

    /// The model a config and vocabularies describe.
    static func model(_ config: ExperimentConfig, sourceVocabulary: Int, targetVocabulary: Int, maxSource: Int,
                      maxTarget: Int, fail: (String, String) -> ConfigError) throws -> EncoderDecoder {
        guard let m = config.model.encoderDecoder else {
            throw fail("model.encoder_decoder", "a seq2seq data set needs model.encoder_decoder {embedding, hidden, layers, attention}")
        }
        guard m.embedding > 0, m.hidden > 0, m.layers > 0 else {
            throw fail("model.encoder_decoder", "embedding, hidden and layers must be positive")
        }
        var rng = RNG(seed: config.seed)
        return EncoderDecoder(sourceVocabulary: sourceVocabulary, targetVocabulary: targetVocabulary,
                              sourceSteps: maxSource, targetSteps: maxTarget + 1, embedding: m.embedding,
                              hidden: m.hidden, layers: m.layers, attention: m.attention, rng: &rng)
    }

    /// Packs pairs into the model's input [B, S + T] (sources padded with 0; decoder input:
    /// start, then the target), the labels (target, then end; 0 on padding) and weights
    /// (1 on real tokens, 0 on padding). Returns the number of real tokens.
    static func pack(_ pairs: ArraySlice<SequencePair>, into x: Tensor, labels: inout [Int32], weights: inout [Float],
                     sourceSteps S: Int, targetSteps T: Int) -> Int {
        let B = pairs.count
        x.resize([B, S + T]); x.zero()
        labels = [Int32](repeating: 0, count: B * T)
        weights = [Float](repeating: 0, count: B * T)
        var tokens = 0
        for (n, p) in pairs.enumerated() {
            let row = x.data + n * (S + T)
            for (i, id) in p.source.enumerated() { row[i] = Float(id) }
            row[S] = Float(SequencePairs.start)
            for (i, id) in p.target.enumerated() where i + 1 < T { row[S + 1 + i] = Float(id) }
            for i in 0...p.target.count {
                labels[n * T + i] = i < p.target.count ? p.target[i] : SequencePairs.end
                weights[n * T + i] = 1
            }
            tokens += p.target.count + 1
        }
        return tokens
    }

    /// Mean cross-entropy per target token with teacher forcing (evaluation mode).
    static func teacherForcedLoss(_ model: EncoderDecoder, _ pairs: [SequencePair], batch: Int = 500) -> Double {
        let loss = SoftmaxCrossEntropy()
        let x = Tensor(shape: [0])
        var labels: [Int32] = [], weights: [Float] = []
        var sum = 0.0, count = 0
        for start in stride(from: 0, to: pairs.count, by: batch) {
            let slice = pairs[start..<min(start + batch, pairs.count)]
            let tokens = pack(slice, into: x, labels: &labels, weights: &weights, sourceSteps: model.sourceSteps,
                              targetSteps: model.targetSteps)
            let logits = model.forward(x, mode: .evaluation)
            let l = loss.evaluate(logits.reshaped([slice.count * model.targetSteps, logits.shape[2]]),
                                  target: .labels(labels), weights: weights, normalizer: Float(tokens)).loss
            sum += Double(l) * Double(tokens)
            count += tokens
        }
        return sum / Double(max(count, 1))
    }

    /// Fraction of pairs whose greedy decoding equals the target exactly.
    static func exactMatch(_ model: EncoderDecoder, _ pairs: [SequencePair], maxTarget: Int,
                           batch: Int = 500) -> Double {
        guard !pairs.isEmpty else { return .nan }
        var correct = 0
        for start in stride(from: 0, to: pairs.count, by: batch) {
            let slice = pairs[start..<min(start + batch, pairs.count)]
            let out = model.greedy(slice.map(\.source), start: SequencePairs.start, end: SequencePairs.end,
                                   maxSteps: maxTarget + 1)
            for (p, o) in zip(slice, out) where p.target == o { correct += 1 }
        }
        return Double(correct) / Double(pairs.count)
    }

    @discardableResult
    public func run() throws -> Seq2SeqSummary {
        let t = config.train, fail = loaded.error
        if t.threads > 0 { Parallel.threads = t.threads }
        guard t.epochs > 0, t.batchSize > 0 else { throw fail("train", "epochs and batch_size must be positive") }
        guard t.batchSize >= comm.size else {
            throw fail("train.batch_size", "a batch of \(t.batchSize) pairs cannot be shared by \(comm.size) ranks")
        }
        let root = comm.rank == 0
        let data = try Self.pairs(config, fail: fail)
        let S = data.maxSourceLength, T = data.maxTargetLength + 1
        let model = try Self.model(config, sourceVocabulary: data.sourceVocabulary.count,
                                   targetVocabulary: data.targetVocabulary.count, maxSource: S,
                                   maxTarget: data.maxTargetLength, fail: fail)
        let loss = SoftmaxCrossEntropy()
        let optimizer = try OptimizerFactory.make(t, fail: fail)
        let batches = data.train.count / t.batchSize + (t.dropLast || data.train.count % t.batchSize == 0 ? 0 : 1)
        guard batches > 0 else { throw fail("train.batch_size", "\(data.train.count) training pairs make no batch of \(t.batchSize)") }
        let schedule = try ScheduleFactory.make(t, batchesPerEpoch: batches, fail: fail)
        let store = CheckpointStore(run: config.name, runs: URL(fileURLWithPath: config.checkpoint.directory),
                                    keep: config.checkpoint.keep)
        let runDirectory = URL(fileURLWithPath: config.checkpoint.directory).appendingPathComponent(config.name)
        if root { try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true) }
        try SequenceRun.broadcastParameters(model.parameters, comm)
        var state = Seq2SeqState(epoch: 0, step: 0, config: config, task: data.task.rawValue,
                                 sourceVocabulary: data.sourceVocabulary, targetVocabulary: data.targetVocabulary,
                                 maxSourceLength: S, maxTargetLength: data.maxTargetLength, bestExactMatch: nil, elapsed: 0)
        var lastCheckpoint: URL?
        if options.resume, let ckpt = try SequenceRun.resume(store, model: model, optimizer: optimizer,
                                                             as: Seq2SeqState.self, progress: progress,
                                                             communicator: comm) {
            state = ckpt.trainer
            state.config = config
            lastCheckpoint = ckpt.directory
        }
        let metrics = root ? try MetricsLog(url: runDirectory.appendingPathComponent("metrics.jsonl"),
                                            keepThroughStep: options.resume ? state.step : nil) : nil
        let m = config.model.encoderDecoder!
        progress.say("\(config.name): \(data.task.rawValue), \(data.train.count) training, \(data.validation.count) "
            + "validation and \(data.test.count) test pairs; sources up to \(S), targets up to \(data.maxTargetLength) tokens; "
            + "encoder–decoder \(ModelState.parameterCount(ModelState.tensors(of: model))) parameters "
            + (m.attention ? "with attention" : "without attention (final state only)") + "; \(Parallel.threads) threads"
            + (comm.size > 1 ? " × \(comm.size) ranks" : ""))

        let x = Tensor(shape: [0])
        var labels: [Int32] = [], weights: [Float] = []
        var message: [Float] = []
        let started = Date().addingTimeInterval(-state.elapsed)
        let lastEpoch = min(t.epochs, options.stopAfterEpochs ?? t.epochs)
        var validationMatch = state.bestExactMatch ?? .nan
        for epoch in (state.epoch + 1)...max(state.epoch + 1, lastEpoch) where epoch <= lastEpoch {
            // The epoch's order depends only on the seed and the epoch: resume is exact.
            var rng = RNG(seed: config.seed, stream: 1000 + UInt64(epoch))
            let order = rng.permutation(data.train.count).map { data.train[$0] }
            let epochStart = Date()
            var lossSum = 0.0, tokensSeen = 0, pairsSeen = 0
            for b in 0..<batches {
                let batch = order[(b * t.batchSize)..<min((b + 1) * t.batchSize, order.count)]
                // This rank's share of the batch; the loss is averaged over the whole batch's tokens.
                let part = SequenceRun.share(batch.count, comm)
                let slice = batch[(batch.startIndex + part.lowerBound)..<(batch.startIndex + part.upperBound)]
                let tokens = batch.reduce(0) { $0 + $1.target.count + 1 }
                _ = Self.pack(slice, into: x, labels: &labels, weights: &weights, sourceSteps: S, targetSteps: T)
                model.zeroGradients()
                let logits = model.forward(x, mode: .training)
                let (local, g) = loss.evaluate(logits.reshaped([slice.count * T, logits.shape[2]]), target: .labels(labels),
                                               weights: weights, normalizer: Float(tokens))
                _ = model.backward(g.reshaped(logits.shape))
                let l = try SequenceRun.allreduce(model.parameters, loss: local, buffer: &message, comm)
                guard l.isFinite else { throw TrainingError.nonFiniteLoss(step: state.step + 1, epoch: epoch) }
                if t.clipNorm > 0 { clipGradientNorm(model.parameters, maxNorm: t.clipNorm) }
                optimizer.learningRate = schedule.rate(at: state.step, base: t.optimizer.lr)
                optimizer.step(model.parameters)
                state.step += 1
                lossSum += Double(l) * Double(tokens)
                tokensSeen += tokens
                pairsSeen += batch.count
                let secs = Date().timeIntervalSince(epochStart)
                progress.step(epoch: epoch, epochs: t.epochs, batch: b + 1, batches: batches,
                              samplesPerSec: Double(pairsSeen) / max(secs, 1e-9), loss: lossSum / Double(tokensSeen),
                              lr: optimizer.learningRate, elapsed: secs)
            }
            let secs = Date().timeIntervalSince(epochStart)
            state.epoch = epoch
            guard root else { continue }
            validationMatch = Self.exactMatch(model, data.validation, maxTarget: data.maxTargetLength)
            let validationLoss = Self.teacherForcedLoss(model, data.validation)
            state.elapsed = Date().timeIntervalSince(started)
            let trainLoss = lossSum / Double(max(tokensSeen, 1))
            metrics?.append(MetricRecord(step: state.step, epoch: epoch, split: "train", loss: trainLoss,
                                        lr: Double(optimizer.learningRate), samplesPerSec: Double(pairsSeen) / secs,
                                        time: state.elapsed))
            metrics?.append(MetricRecord(step: state.step, epoch: epoch, split: "validation", loss: validationLoss,
                                        accuracy: validationMatch, time: state.elapsed))
            let improved = state.bestExactMatch.map { validationMatch > $0 } ?? true
            if improved { state.bestExactMatch = validationMatch }
            progress.say(String(format: "epoch %d/%d  loss per token: train %.4f validation %.4f  validation exact match %.4f  %.0f pairs/s  [%@]",
                                epoch, t.epochs, trainLoss, validationLoss, validationMatch, Double(pairsSeen) / secs,
                                ProgressReporter.clock(state.elapsed)))
            lastCheckpoint = try store.save(step: state.step, model: model, optimizer: optimizer.stateTensors(),
                                            optimizerMetadata: ["kind": optimizer.kind], trainer: state, best: improved)
        }
        guard root else {
            return Seq2SeqSummary(name: config.name, attention: m.attention, epochs: state.epoch, steps: state.step,
                                  seconds: Date().timeIntervalSince(started), validationExactMatch: .nan,
                                  testExactMatch: .nan, testPairs: data.test.count, checkpoint: "")
        }
        let testMatch = Self.exactMatch(model, data.test, maxTarget: data.maxTargetLength)
        let summary = Seq2SeqSummary(name: config.name, attention: m.attention, epochs: state.epoch, steps: state.step,
                                     seconds: Date().timeIntervalSince(started), validationExactMatch: validationMatch,
                                     testExactMatch: testMatch, testPairs: data.test.count,
                                     checkpoint: lastCheckpoint?.path ?? "")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(summary).write(to: runDirectory.appendingPathComponent("summary.json"))
        // A few test pairs as the model answers them.
        let shown = Array(data.test.prefix(4))
        for (p, o) in zip(shown, model.greedy(shown.map(\.source), start: SequencePairs.start, end: SequencePairs.end,
                                              maxSteps: data.maxTargetLength + 1)) {
            let src = p.source.map { String($0 - 1) }.joined()
            progress.say("  \(src) → \(SequencePairs.decodeTarget(o, task: data.task, vocabulary: data.targetVocabulary))"
                + (o == p.target ? "" : "   (expected: \(SequencePairs.decodeTarget(p.target, task: data.task, vocabulary: data.targetVocabulary)))"))
        }
        progress.say(String(format: "test exact match %.4f on %d pairs after %d epochs, %@", testMatch, data.test.count,
                            state.epoch, ProgressReporter.clock(summary.seconds)))
        if let c = lastCheckpoint {
            progress.say("translate: phalanx generate --checkpoint \(c.path) --prompt 40512")
        }
        return summary
    }

    /// Greedy answer of a checkpoint to one source string (`phalanx generate`).
    public static func translate(checkpoint: URL, source: String) throws -> String {
        let ckpt = try Checkpoint<Seq2SeqState>.load(from: checkpoint, as: Seq2SeqState.self)
        let s = ckpt.trainer
        guard let task = SequenceTask(rawValue: s.task) else {
            throw CheckpointError(file: checkpoint.path, .invalidJSON("unknown task '\(s.task)'"))
        }
        guard let ids = SequencePairs.encodeSource(source), !ids.isEmpty, ids.count <= s.maxSourceLength else {
            throw ValidationFailure("the source must be 1 to \(s.maxSourceLength) digits for \(s.task), got '\(source)'")
        }
        let model = try loadModel(ckpt, file: checkpoint)
        let out = model.greedy([ids], start: SequencePairs.start, end: SequencePairs.end, maxSteps: s.maxTargetLength + 1)
        return SequencePairs.decodeTarget(out[0], task: task, vocabulary: s.targetVocabulary)
    }

    /// Test-set exact match of a checkpoint, regenerating its config's pairs.
    public static func evaluate(checkpoint: URL) throws -> (exactMatch: Double, pairs: Int, step: Int) {
        let ckpt = try Checkpoint<Seq2SeqState>.load(from: checkpoint, as: Seq2SeqState.self)
        let data = try pairs(ckpt.trainer.config) { key, message in
            ConfigError(file: checkpoint.appendingPathComponent(CheckpointLayout.trainer).path, key: key, message)
        }
        let model = try loadModel(ckpt, file: checkpoint)
        return (exactMatch(model, data.test, maxTarget: data.maxTargetLength), data.test.count, ckpt.step)
    }

    private static func loadModel(_ ckpt: Checkpoint<Seq2SeqState>, file: URL) throws -> EncoderDecoder {
        let s = ckpt.trainer
        let model = try Self.model(s.config, sourceVocabulary: s.sourceVocabulary.count,
                                   targetVocabulary: s.targetVocabulary.count, maxSource: s.maxSourceLength,
                                   maxTarget: s.maxTargetLength) { key, message in
            ConfigError(file: file.appendingPathComponent(CheckpointLayout.trainer).path, key: key, message)
        }
        try ModelState.apply(ckpt.model, to: model, file: file.appendingPathComponent(CheckpointLayout.model).path)
        return model
    }
}

/// A user's input the command cannot use.
public struct ValidationFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Pieces the sequence trainers (language model, encoder–decoder) share.
///
/// Under mpirun each rank takes its share of every batch's sequences and the gradients
/// (and the loss, which each rank computes over its share divided by the global count)
/// are summed over the ranks in one allreduce, so N ranks take the same steps as one
/// process. Rank 0 evaluates, prints and writes checkpoints.
enum SequenceRun {
    /// Restores model and optimizer from the newest good checkpoint (rank 0 chooses it;
    /// every rank loads that directory, which must be on a filesystem they all see),
    /// reporting what it skipped; nil (and a note) when there is none. Sequence runs
    /// checkpoint at the end of an epoch, and their epochs depend only on the seed and the
    /// epoch number, so training continues exactly.
    static func resume<State: Decodable>(_ store: CheckpointStore, model: Layer, optimizer: Optimizer,
                                         as type: State.Type, progress: ProgressReporter,
                                         communicator comm: Communicator) throws -> Checkpoint<State>? {
        guard let ckpt = try choose(store, as: type, progress: progress, communicator: comm) else { return nil }
        try ModelState.apply(ckpt.model, to: model, file: ckpt.directory.appendingPathComponent(CheckpointLayout.model).path)
        do {
            try optimizer.loadState(ckpt.optimizer.entries.mapValues(\.tensor), step: ckpt.step, parameters: model.parameters)
        } catch {
            throw CheckpointError(file: ckpt.directory.appendingPathComponent(CheckpointLayout.optimizer).path,
                                  .io("optimizer state does not fit this model: \(error)"))
        }
        progress.say("resumed from \(ckpt.directory.path) (step \(ckpt.step))")
        return ckpt
    }

    /// The checkpoint every rank resumes from: rank 0 picks the newest good one (reporting
    /// those it skipped), the others load the same directory (on a cluster,
    /// checkpoint.directory must be on a filesystem every rank sees). Shared with `Trainer`.
    static func choose<State: Decodable>(_ store: CheckpointStore, as type: State.Type, progress: ProgressReporter,
                                         communicator comm: Communicator) throws -> Checkpoint<State>? {
        var chosen = ""
        var ckpt: Checkpoint<State>?
        if comm.rank == 0 {
            if let point = try store.resume(as: type) {
                for s in point.skipped { progress.say("resume: skipped \(s)") }
                ckpt = point.checkpoint
                chosen = point.checkpoint.directory.path
            } else {
                progress.say("resume: no checkpoint in \(store.directory.path); starting fresh")
            }
        }
        chosen = try comm.broadcast(chosen, root: 0)
        if chosen.isEmpty { return nil }
        return try ckpt ?? Checkpoint<State>.load(from: URL(fileURLWithPath: chosen), as: type)
    }

    /// Rank 0's parameters on every rank.
    static func broadcastParameters(_ parameters: [Parameter], _ comm: Communicator) throws {
        guard comm.size > 1 else { return }
        for p in parameters {
            try comm.broadcast(UnsafeMutableBufferPointer(start: p.value.data, count: p.count), root: 0)
        }
    }

    /// Rank r's part lo..<hi of `count` items shared as evenly as possible.
    static func share(_ count: Int, _ comm: Communicator) -> Range<Int> {
        (comm.rank * count / comm.size)..<((comm.rank + 1) * count / comm.size)
    }

    /// Sums the parameters' gradients and `loss` over the ranks in one allreduce, using
    /// `buffer` (grown once) as the flat message. Returns the summed loss.
    static func allreduce(_ parameters: [Parameter], loss: Float, buffer: inout [Float],
                          _ comm: Communicator) throws -> Float {
        guard comm.size > 1 else { return loss }
        let total = parameters.reduce(0) { $0 + $1.count } + 1
        if buffer.count != total { buffer = [Float](repeating: 0, count: total) }
        return try buffer.withUnsafeMutableBufferPointer { b in
            var offset = 0
            for p in parameters {
                (b.baseAddress! + offset).update(from: p.gradient.data, count: p.count)
                offset += p.count
            }
            b[offset] = loss
            try comm.allreduceSum(b)
            offset = 0
            for p in parameters {
                p.gradient.data.update(from: b.baseAddress! + offset, count: p.count)
                offset += p.count
            }
            return b[offset]
        }
    }
}
