// Character language models: training with truncated BPTT over a text corpus, held-out
// bits per character, checkpoints that carry the vocabulary, and sampling.
//
// The training text is cut into `batch_size` streams of equal length (stream n starts
// at n·S); each step takes the next `sequence_length` characters of every stream, and
// the model (embedding → recurrent layers with `return_sequences` → a linear projection
// per step) predicts each next character. Recurrent layers carry their state from one
// chunk to the next (truncated BPTT) and start from zeros each epoch.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxNN

/// What a language-model checkpoint's trainer.json holds.
public struct LanguageModelState: Codable, Sendable {
    public var epoch: Int
    public var step: Int
    public var config: ExperimentConfig
    /// The vocabulary, in id order, as one string.
    public var vocabulary: String
    public var bestBitsPerCharacter: Double?
    public var elapsed: Double

    enum CodingKeys: String, CodingKey {
        case epoch, step, config, vocabulary, elapsed
        case bestBitsPerCharacter = "best_bits_per_character"
    }

    var scalars: [Unicode.Scalar] { Array(vocabulary.unicodeScalars) }
}

public struct LanguageModelSummary: Codable, Sendable {
    public var name: String
    public var epochs: Int
    public var steps: Int
    public var seconds: Double
    public var trainCharactersPerSec: Double
    public var heldOutBitsPerCharacter: Double
    public var checkpoint: String

    enum CodingKeys: String, CodingKey {
        case name, epochs, steps, seconds, checkpoint
        case trainCharactersPerSec = "train_characters_per_sec"
        case heldOutBitsPerCharacter = "held_out_bits_per_character"
    }
}

/// Trains a character language model (`data.dataset: text`), alone or under mpirun.
public final class LanguageModelTrainer {
    public let loaded: LoadedConfig
    public let options: TrainOptions
    private var config: ExperimentConfig { loaded.config }
    private let progress: ProgressReporter
    private let comm: Communicator

    /// A trainer alone, or as one rank of a data-parallel job: each rank runs its share
    /// of the streams (see `SequenceRun`).
    public init(_ loaded: LoadedConfig, options: TrainOptions = TrainOptions(),
                communicator: Communicator = LocalCommunicator()) {
        self.loaded = loaded
        self.options = options
        comm = communicator
        progress = ProgressReporter(logEvery: loaded.config.train.logEvery, interactive: options.interactive,
                                    quiet: options.quiet || communicator.rank != 0, unit: "chars/s")
    }

    @discardableResult
    public func run() throws -> LanguageModelSummary {
        let t = config.train, d = config.data, fail = loaded.error
        if t.threads > 0 { Parallel.threads = t.threads }
        guard d.sequenceLength > 0 else { throw fail("data.sequence_length", "must be positive") }
        guard t.epochs > 0, t.batchSize > 0 else { throw fail("train", "epochs and batch_size must be positive") }
        let corpus = try TextCorpus.load(paths: d.text, heldOut: d.validation)
        let vocabulary = corpus.vocabulary.count
        let built = try ModelBuilder.build(config.model, seed: config.seed, vocabulary: vocabulary, fail: fail)
        let model = built.network
        guard config.model.input.count == 1, config.model.input[0] == d.sequenceLength else {
            throw fail("model.input", "a language model's input is [sequence_length], here [\(d.sequenceLength)]")
        }
        guard built.outputShape == [d.sequenceLength, vocabulary] else {
            throw fail("model.layers", "the model must output [\(d.sequenceLength), \(vocabulary)] (a score per character "
                + "of the vocabulary at every step), it outputs \(built.outputShape)")
        }
        let recurrent = LanguageModel.recurrentLayers(of: model)
        for r in recurrent { r.carryState = true }
        let loss = SoftmaxCrossEntropy()
        let optimizer = try OptimizerFactory.make(t, fail: fail)
        let T = d.sequenceLength, N = t.batchSize
        guard N >= comm.size else { throw fail("train.batch_size", "\(N) streams cannot be shared by \(comm.size) ranks") }
        let root = comm.rank == 0
        let mine = SequenceRun.share(N, comm)  // this rank's streams
        let streamLength = corpus.train.count / N
        let chunks = (streamLength - 1) / T
        guard chunks > 0 else {
            throw fail("train.batch_size", "\(corpus.train.count) training characters in \(N) streams leave no chunk of \(T)")
        }
        let schedule = try ScheduleFactory.make(t, batchesPerEpoch: chunks, fail: fail)
        let store = CheckpointStore(run: config.name, runs: URL(fileURLWithPath: config.checkpoint.directory),
                                    keep: config.checkpoint.keep)
        let runDirectory = URL(fileURLWithPath: config.checkpoint.directory).appendingPathComponent(config.name)
        if root { try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true) }
        try SequenceRun.broadcastParameters(model.parameters, comm)
        var state = LanguageModelState(epoch: 0, step: 0, config: config,
                                       vocabulary: String(String.UnicodeScalarView(corpus.vocabulary)),
                                       bestBitsPerCharacter: nil, elapsed: 0)
        var lastCheckpoint: URL?
        if options.resume, let ckpt = try SequenceRun.resume(store, model: model, optimizer: optimizer,
                                                             as: LanguageModelState.self, progress: progress,
                                                             communicator: comm) {
            guard ckpt.trainer.vocabulary == state.vocabulary else {
                throw CheckpointError(file: ckpt.directory.appendingPathComponent(CheckpointLayout.trainer).path,
                                      .io("its vocabulary differs from this text's; resume needs the same text"))
            }
            state = ckpt.trainer
            state.config = config
            lastCheckpoint = ckpt.directory
        }
        let metrics = root ? try MetricsLog(url: runDirectory.appendingPathComponent("metrics.jsonl"),
                                            keepThroughStep: options.resume ? state.step : nil) : nil
        progress.say("\(config.name): \(ModelState.parameterCount(ModelState.tensors(of: model))) parameters, "
            + "\(vocabulary) characters in the vocabulary, \(corpus.train.count) training and \(corpus.heldOut.count) "
            + "held-out characters; \(t.epochs) epochs of \(chunks) chunks of \(N)×\(T); \(Parallel.threads) threads"
            + (comm.size > 1 ? " × \(comm.size) ranks" : ""))

        let n = mine.count
        let inputs = Tensor(shape: [n, T])
        var labels = [Int32](repeating: 0, count: n * T)
        var message: [Float] = []
        let started = Date().addingTimeInterval(-state.elapsed)
        var trainCharacters = 0, trainSeconds = 0.0
        let lastEpoch = min(t.epochs, options.stopAfterEpochs ?? t.epochs)
        for epoch in (state.epoch + 1)...max(state.epoch + 1, lastEpoch) where epoch <= lastEpoch {
            for r in recurrent { r.resetState() }
            let epochStart = Date()
            var lossSum = 0.0, seen = 0
            for c in 0..<chunks {
                LanguageModel.fill(inputs, &labels, from: corpus.train, streams: mine, streamLength: streamLength,
                                   offset: c * T, steps: T)
                model.zeroGradients()
                let logits = model.forward(inputs, mode: .training)
                // Averaged over all N·T characters of the step, whichever rank holds them.
                let (local, g) = loss.evaluate(logits.reshaped([n * T, vocabulary]), target: .labels(labels),
                                               weights: nil, normalizer: Float(N * T))
                _ = model.backward(g.reshaped([n, T, vocabulary]))
                let l = try SequenceRun.allreduce(model.parameters, loss: local, buffer: &message, comm)
                guard l.isFinite else { throw TrainingError.nonFiniteLoss(step: state.step + 1, epoch: epoch) }
                if t.clipNorm > 0 { clipGradientNorm(model.parameters, maxNorm: t.clipNorm) }
                optimizer.learningRate = schedule.rate(at: state.step, base: t.optimizer.lr)
                optimizer.step(model.parameters)
                state.step += 1
                lossSum += Double(l) * Double(N * T)
                seen += N * T
                let secs = Date().timeIntervalSince(epochStart)
                progress.step(epoch: epoch, epochs: t.epochs, batch: c + 1, batches: chunks,
                              samplesPerSec: Double(seen) / max(secs, 1e-9), loss: lossSum / Double(seen) / log(2),
                              lr: optimizer.learningRate, elapsed: secs)
            }
            let secs = Date().timeIntervalSince(epochStart)
            trainCharacters += seen; trainSeconds += secs
            let trainBits = lossSum / Double(max(seen, 1)) / log(2)
            state.epoch = epoch
            guard root else { continue }  // rank 0 evaluates and writes
            let heldBits = try LanguageModel.bitsPerCharacter(model, recurrent: recurrent, ids: corpus.heldOut,
                                                               vocabulary: vocabulary, steps: T)
            state.elapsed = Date().timeIntervalSince(started)
            metrics?.append(MetricRecord(step: state.step, epoch: epoch, split: "train", loss: trainBits * log(2),
                                        lr: Double(optimizer.learningRate), samplesPerSec: Double(seen) / secs,
                                        time: state.elapsed))
            metrics?.append(MetricRecord(step: state.step, epoch: epoch, split: "validation", loss: heldBits * log(2),
                                        time: state.elapsed))
            let improved = state.bestBitsPerCharacter.map { heldBits < $0 } ?? true
            if improved { state.bestBitsPerCharacter = heldBits }
            progress.say(String(format: "epoch %d/%d  train %.3f bits/char  held-out %.3f bits/char  %.0f chars/s  [%@]",
                                epoch, t.epochs, trainBits, heldBits, Double(seen) / secs,
                                ProgressReporter.clock(state.elapsed)))
            lastCheckpoint = try store.save(step: state.step, model: model, optimizer: optimizer.stateTensors(),
                                            optimizerMetadata: ["kind": optimizer.kind], trainer: state, best: improved)
        }
        let final = root ? try LanguageModel.bitsPerCharacter(model, recurrent: recurrent, ids: corpus.heldOut,
                                                              vocabulary: vocabulary, steps: T) : .nan
        let summary = LanguageModelSummary(name: config.name, epochs: state.epoch, steps: state.step,
                                           seconds: Date().timeIntervalSince(started),
                                           trainCharactersPerSec: Double(trainCharacters) / max(trainSeconds, 1e-9),
                                           heldOutBitsPerCharacter: final, checkpoint: lastCheckpoint?.path ?? "")
        guard root else { return summary }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(summary).write(to: runDirectory.appendingPathComponent("summary.json"))
        progress.say(String(format: "held-out %.3f bits per character after %d epochs, %d steps, %@",
                            final, state.epoch, state.step, ProgressReporter.clock(summary.seconds)))
        if let c = lastCheckpoint {
            progress.say("generate: phalanx generate --checkpoint \(c.path) --prompt 'The ' --length 200")
        }
        return summary
    }
}

/// Pieces shared by training and sampling.
public enum LanguageModel {
    /// The recurrent layers of a model, which carry state across chunks.
    static func recurrentLayers(of model: Layer) -> [Recurrent] {
        layers(of: model).compactMap { $0 as? Recurrent }
    }

    /// Inputs [n, T] and next-character labels for chunk `offset` of the n streams in
    /// `streams` (stream k starts at k·streamLength).
    static func fill(_ inputs: Tensor, _ labels: inout [Int32], from ids: [Int32], streams: Range<Int>, streamLength: Int,
                     offset: Int, steps: Int) {
        for (n, k) in streams.enumerated() {
            let base = k * streamLength + offset
            for t in 0..<steps {
                inputs[n * steps + t] = Float(ids[base + t])
                labels[n * steps + t] = ids[base + t + 1]
            }
        }
    }

    /// Mean bits per character of predicting each next character of `ids`, read as one
    /// stream in chunks of `steps` with the state carried (evaluation mode).
    static func bitsPerCharacter(_ model: Layer, recurrent: [Recurrent], ids: [Int32], vocabulary: Int,
                                 steps: Int) throws -> Double {
        for r in recurrent { r.resetState() }
        defer { for r in recurrent { r.resetState() } }
        let loss = SoftmaxCrossEntropy()
        let chunks = (ids.count - 1) / steps
        guard chunks > 0 else { return .nan }
        let inputs = Tensor(shape: [1, steps])
        var labels = [Int32](repeating: 0, count: steps)
        var sum = 0.0
        for c in 0..<chunks {
            fill(inputs, &labels, from: ids, streams: 0..<1, streamLength: ids.count, offset: c * steps, steps: steps)
            let logits = model.forward(inputs, mode: .evaluation)
            sum += Double(loss.evaluate(logits.reshaped([steps, vocabulary]), target: .labels(labels)).loss)
        }
        return sum / Double(chunks) / log(2)
    }

    /// Held-out bits per character of a checkpoint, on the held-out tail of its config's
    /// text (the figure training reports).
    public static func evaluate(checkpoint: URL) throws -> (bitsPerCharacter: Double, characters: Int, step: Int) {
        let ckpt = try Checkpoint<LanguageModelState>.load(from: checkpoint, as: LanguageModelState.self)
        let config = ckpt.trainer.config
        let vocabulary = ckpt.trainer.scalars
        let corpus = try TextCorpus.load(paths: config.data.text, heldOut: config.data.validation)
        // Held-out text in the checkpoint's own vocabulary (unknown characters → id 0, as in training).
        let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($0.element, Int32($0.offset)) })
        let held = corpus.heldOut.map { index[corpus.vocabulary[Int($0)]] ?? 0 }
        let built = try ModelBuilder.build(config.model, seed: config.seed, vocabulary: vocabulary.count)
        try ModelState.apply(ckpt.model, to: built.network, file: checkpoint.appendingPathComponent(CheckpointLayout.model).path)
        let recurrent = recurrentLayers(of: built.network)
        for r in recurrent { r.carryState = true }
        let bits = try bitsPerCharacter(built.network, recurrent: recurrent, ids: held, vocabulary: vocabulary.count,
                                        steps: config.data.sequenceLength)
        return (bits, held.count, ckpt.step)
    }

    /// Samples `length` characters after `prompt` from a checkpoint, one at a time from
    /// softmax(logits / temperature) — the most likely one at temperature 0 — keeping the
    /// `topK` most likely when given; stops early at `stop` (a character) when given.
    public static func generate(checkpoint: URL, prompt: String, length: Int, temperature: Float, topK: Int?,
                                seed: UInt64, stop: Character? = nil) throws -> String {
        let ckpt = try Checkpoint<LanguageModelState>.load(from: checkpoint, as: LanguageModelState.self)
        let state = ckpt.trainer
        let vocabulary = state.scalars
        // The same layers, run one character at a time.
        var model1 = state.config.model
        model1.input = [1]
        let built = try ModelBuilder.build(model1, seed: state.config.seed, vocabulary: vocabulary.count)
        try ModelState.apply(ckpt.model, to: built.network, file: checkpoint.appendingPathComponent(CheckpointLayout.model).path)
        let recurrent = recurrentLayers(of: built.network)
        for r in recurrent { r.carryState = true; r.resetState() }
        var ids = TextCorpus.encode(prompt, vocabulary: vocabulary)
        if ids.isEmpty { ids = [TextCorpus.encode("\n", vocabulary: vocabulary).first ?? 0] }
        let input = Tensor(shape: [1, 1])
        var rng = RNG(seed: seed, stream: 77)
        var logits: Tensor?
        for id in ids {
            input[0] = Float(id)
            logits = built.network.forward(input, mode: .evaluation)
        }
        var out: [Int32] = []
        var probabilities = [Double](repeating: 0, count: vocabulary.count)
        for _ in 0..<length {
            guard let l = logits else { break }
            // softmax(l / T), restricted to the top k.
            var order = Array(0..<vocabulary.count)
            if temperature == 0 {
                var best = 0
                for i in 1..<order.count where l[i] > l[best] { best = i }
                order = [best]
            } else if let k = topK, k > 0, k < order.count {
                order.sort { l[$0] > l[$1] }
                order = Array(order.prefix(k))
            }
            let m = order.map { Double(l[$0]) }.max() ?? 0
            var total = 0.0
            for i in 0..<probabilities.count { probabilities[i] = 0 }
            for i in order {
                probabilities[i] = exp((Double(l[i]) - m) / Double(max(temperature, 1e-4)))
                total += probabilities[i]
            }
            var u = Double(rng.uniform(0, 1)) * total
            var next = order.last!
            for i in order {
                u -= probabilities[i]
                if u <= 0 { next = i; break }
            }
            out.append(Int32(next))
            if let stop, Character(vocabulary[next]) == stop { break }
            input[0] = Float(next)
            logits = built.network.forward(input, mode: .evaluation)
        }
        return prompt + TextCorpus.decode(out, vocabulary: vocabulary)
    }
}
