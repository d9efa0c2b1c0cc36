// Generative adversarial networks (`task: gan`): a generator G (the `model:` section,
// reading a latent vector z ~ N(0, I)) and a discriminator D (`gan.discriminator`, one
// logit per image) trained against each other.
//
// Goodfellow et al., "Generative Adversarial Nets" (NIPS 2014), with the non-saturating
// generator loss of §3; the DCGAN recipe of Radford, Metz & Chintala (ICLR 2016): Adam
// with β₁ = 0.5, batch norm, strided (transposed) convolutions, LeakyReLU in D. Each step,
// on this rank's share of the global batch (real images x, latents z drawn per sample from
// (seed, epoch, sample index), so N ranks draw what one process draws):
//   1. D: zero, ∇ of BCE(D(x), 1) + BCE(D(G(z)), 0) into D only, allreduce, D's Adam step;
//   2. G: zero, ∇ of BCE(D(G(z)), 1) back through D into G, allreduce, G's Adam step.
// Both networks live in one container (`generator.*`, `discriminator.*` in the
// checkpoint); each has its own optimizer (PartitionedOptimizer), saved together.
// Metrics: D's and G's losses on the split's real images and as many fixed latents, and
// D's mean probability for real and generated images; `samples/epoch-NNN.png` renders the
// fixed latents each epoch.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxNN
import Yams

/// Trains a GAN on image data (labels are not used).
public final class GANTask: TrainingTask {
    public typealias State = ClassificationTask.State

    public static let metrics = [MetricSpec.loss, MetricSpec("d_loss", .min, label: "D loss"),
                                 MetricSpec("g_loss", .min, label: "G loss"),
                                 MetricSpec("d_real", .max, label: "D(x)"), MetricSpec("d_fake", .min, label: "D(G(z))"),
                                 MetricSpec("fid", .min, label: "FD"), MetricSpec("fid_floor", .min, label: "FD real"),
                                 MetricSpec("label_entropy", .max, label: "H(labels)")]
    /// A GAN's losses say little about its samples; `best` follows the generator's loss
    /// against the current discriminator unless `checkpoint.monitor` says otherwise.
    public static let defaultMonitor = "validation_g_loss"

    let context: TaskContext
    public let generator: Sequential
    public let discriminator: Sequential
    public let network: Layer
    let settings: GANConfig
    /// The length of z.
    public let latent: Int
    public var data: TrainingData { epochs.data }
    private var epochs: ImageEpochs
    private let loss = BinaryCrossEntropy()
    private let z: Tensor
    private let ones: Tensor, zeros: Tensor
    /// The classifier that scores samples (gan.classifier), if any.
    let score: GANScore?
    /// Per split: the real images' feature moments and the real-vs-real floor, computed once.
    private var realMoments: [Split: [Double]] = [:]
    private var floors: [Split: Double] = [:]

    public init(_ context: TaskContext, saved: SavedTaskState<State>?) throws {
        self.context = context
        let config = context.config, t = config.train, fail = context.fail, comm = context.communicator
        guard let settings = config.gan else {
            throw fail("gan", "a GAN needs a 'gan:' section with its discriminator's layers (gan.discriminator); "
                + "model: is the generator")
        }
        guard !settings.discriminator.isEmpty else {
            throw fail("gan.discriminator", "a GAN needs a discriminator: list its layers (images in, one logit out)")
        }
        self.settings = settings
        if t.batchSize % comm.size != 0 {
            throw fail("train.batch_size", "the global batch of \(t.batchSize) does not split evenly over \(comm.size) ranks")
        }
        if t.loss != "cross_entropy" { throw fail("train.loss", "a GAN's losses are fixed (non-saturating BCE); leave train.loss out") }
        if OptimizerConfig.closureKinds.contains(t.optimizer.kind) {
            throw fail("train.optimizer.kind", "a GAN alternates two optimizers step by step; \(t.optimizer.kind) needs one fixed objective")
        }
        if settings.samples < 1 || settings.samples > 1024 { throw fail("gan.samples", "must lie in 1…1024, got \(settings.samples)") }
        if let lr = settings.discriminatorLR, !(lr > 0 && lr.isFinite) {
            throw fail("gan.discriminator_lr", "must be a positive number, got \(lr)")
        }
        guard config.model.input.count == 1, config.model.input[0] > 0 else {
            throw fail("model.input", "the generator reads a latent vector: input: [LENGTH], not \(describe(config.model.input))")
        }
        latent = config.model.input[0]
        let data = try TrainingData.load(config, normalization: saved?.state.normalization, modelReadsImages: false, fail: fail)
        let imageShape = data.train.sampleShape
        let g = try ModelBuilder.build(config.model, seed: config.seed, loss: .binaryCrossEntropy, fail: fail)
        guard g.outputShape == imageShape else {
            throw fail("model.layers", "the generator writes \(describe(g.outputShape)) per sample; the images are \(describe(imageShape))")
        }
        let dModel = ModelConfig(input: imageShape, layers: settings.discriminator)
        let d = try ModelBuilder.build(dModel, seed: config.seed &+ 1, loss: .binaryCrossEntropy, inputGradient: true) { key, message in
            fail(key.replacingOccurrences(of: "model.layers", with: "gan.discriminator"), message)
        }
        guard d.outputShape == [1] else {
            throw fail("gan.discriminator", "the discriminator must output one logit per image, not \(describe(d.outputShape))")
        }
        let share = t.batchSize / comm.size
        try g.checkMemory(samples: share, fail: fail)
        try d.checkMemory(samples: 2 * share, fail: fail)
        generator = g.network
        discriminator = d.network
        network = Sequential([("generator", generator), ("discriminator", discriminator)])
        score = try settings.classifier.map {
            try GANScore(checkpoint: $0, layer: settings.featureLayer, imageShape: imageShape, fail: fail)
        }
        epochs = try ImageEpochs(data, context: context, saved: saved?.state.sampler)
        z = Tensor(shape: [share, latent])
        ones = Tensor(shape: [share, 1]); ones.fill(1)
        zeros = Tensor(shape: [share, 1])
    }

    deinit { epochs.stop() }

    public func makeOptimizer(_ config: ExperimentConfig, fail: (String, String) -> ConfigError) throws -> Optimizer {
        let g = try OptimizerFactory.make(config.train, fail: fail)
        var dTrain = config.train
        if let lr = settings.discriminatorLR { dTrain.optimizer.lr = lr }
        let d = try OptimizerFactory.make(dTrain, fail: fail)
        return PartitionedOptimizer([("generator.", g), ("discriminator.", d)])
    }

    public var splits: [Split] { data.validation == nil ? [.test] : [.validation, .test] }
    public var unit: String { "img/s" }
    public var batchesPerEpoch: Int { epochs.batchesPerEpoch }
    public var resumesMidEpoch: Bool { true }
    public var fingerprint: String { data.fingerprint }
    public var description: String {
        "GAN: generator \(latent) → \(describe(data.train.sampleShape)) (\(ModelState.parameterCount(ModelState.tensors(of: generator))) "
            + "parameters), discriminator (\(ModelState.parameterCount(ModelState.tensors(of: discriminator))) parameters); "
            + "\(data.train.count) training images\(data.validation.map { ", \($0.count) validation" } ?? ""), \(data.test.count) test"
            + (score.map { String(format: "; samples scored by %@ of %@ (test accuracy %.4f)", $0.featureName, $0.checkpoint,
                                  $0.testAccuracy) } ?? "")
    }

    public func startEpoch(_ epoch: Int) throws { try epochs.start() }

    /// Fills `into` with latents N(0, I), row i from stream `streams[i]`.
    func latents(_ streams: [UInt64], salt: UInt64, into out: Tensor) {
        out.resize([streams.count, latent])
        for (i, s) in streams.enumerated() {
            var rng = RNG(seed: context.config.seed ^ salt, stream: s)
            for j in 0..<latent { out[i * latent + j] = rng.normal() }
        }
    }

    /// The training latents: one per real sample of the batch, from (epoch, data set index).
    private static let trainSalt: UInt64 = 0x6A4E_1A7E_0000_0001
    /// The fixed latents of evaluation and sample grids.
    static let fixedSalt: UInt64 = 0x6A4E_F1CE_D000_0002

    public func computeGradients(batch index: Int) throws -> StepOutput {
        fatalError("GANTask owns its update: trainStep")
    }

    public func trainStep(batch index: Int, step: StandardStep) throws -> StepOutput {
        let batch = epochs.next(index, task: "GANTask")
        let n = batch.count, normalizer = Float(batch.globalCount)
        latents(batch.indices.map { UInt64(batch.epoch) << 32 | UInt64($0) }, salt: Self.trainSalt, into: z)
        ones.resize([n, 1]); ones.fill(1)
        zeros.resize([n, 1]); zeros.fill(0)
        // 1. The discriminator: real images are 1, generated ones 0; G is not updated.
        step.zeroGradients()
        let fake = generator.forward(z, mode: .training)
        let (dReal, gReal) = loss.evaluate(discriminator.forward(batch.images, mode: .training), target: .values(ones),
                                           weights: nil, normalizer: normalizer)
        _ = discriminator.backward(gReal)
        let (dFake, gFake) = loss.evaluate(discriminator.forward(fake, mode: .training), target: .values(zeros),
                                           weights: nil, normalizer: normalizer)
        _ = discriminator.backward(gFake)
        let dLoss = Double(dReal) + Double(dFake)
        try step.checkFinite(StepOutput(loss: dLoss, globalUnits: batch.globalCount, units: n, samples: n))
        try step.reduceGradients()
        step.applyUpdate(to: discriminator.parameters)
        // 2. The generator: make the (updated) discriminator say 1 to the same samples.
        step.zeroGradients()
        let (gLoss, gGen) = loss.evaluate(discriminator.forward(fake, mode: .training), target: .values(ones),
                                          weights: nil, normalizer: normalizer)
        _ = generator.backward(discriminator.backward(gGen))
        let out = StepOutput(loss: dLoss + Double(gLoss), globalUnits: batch.globalCount, units: n, samples: n)
        try step.checkFinite(out)
        try step.reduceGradients()
        step.applyUpdate(to: generator.parameters)
        return out
    }

    public func endEpoch(_ epoch: Int) throws { try epochs.end() }

    /// D's and G's losses and D's mean probabilities on the split's real images (sharded)
    /// and as many fixed latents (sharded alike), the sums reduced.
    public func evaluate(_ split: Split) throws -> [String: Double] {
        guard let (batches, batchSize) = try epochs.evaluationBatches(split, context: context) else { return [:] }
        let comm = context.communicator
        let zEval = Tensor(shape: [batchSize, latent]), target = Tensor(shape: [batchSize, 1])
        var sums = [Double](repeating: 0, count: 6)  // d real, d fake, g, p real, p fake, count
        let needReal = score != nil && realMoments[split] == nil
        var realSums = [Double](repeating: 0, count: needReal ? score!.momentsCount : 0)
        var generated = [Double](repeating: 0, count: score?.momentsCount ?? 0)
        for batch in batches {
            let n = batch.count
            target.resize([n, 1])
            let real = discriminator.forward(batch.images, mode: .evaluation)
            target.fill(1)
            sums[0] += Double(loss.evaluate(real, target: .values(target), weights: nil, normalizer: nil).loss) * Double(n)
            for i in 0..<n { sums[3] += 1 / (1 + exp(-Double(real[i]))) }
            latents(batch.indices.map { UInt64($0) }, salt: Self.fixedSalt, into: zEval)
            let fakeLogits = discriminator.forward(generator.forward(zEval, mode: .evaluation), mode: .evaluation)
            target.fill(0)
            sums[1] += Double(loss.evaluate(fakeLogits, target: .values(target), weights: nil, normalizer: nil).loss) * Double(n)
            target.fill(1)
            sums[2] += Double(loss.evaluate(fakeLogits, target: .values(target), weights: nil, normalizer: nil).loss) * Double(n)
            for i in 0..<n { sums[4] += 1 / (1 + exp(-Double(fakeLogits[i]))) }
            sums[5] += Double(n)
            if let score {
                if needReal { score.accumulate(batch.images, normalizedWith: data.normalization, into: &realSums) }
                score.accumulate(generator.forward(zEval, mode: .evaluation), normalizedWith: data.normalization, into: &generated)
            }
        }
        let s = try comm.allreduceSum(sums)
        let count = max(s[5], 1)
        var out = ["loss": (s[0] + s[1] + s[2]) / count, "d_loss": (s[0] + s[1]) / count, "g_loss": s[2] / count,
                   "d_real": s[3] / count, "d_fake": s[4] / count]
        if let score {
            if needReal { realMoments[split] = try comm.allreduceSum(realSums) }
            let realMoment = realMoments[split]!
            let gen = try comm.allreduceSum(generated)
            out["fid"] = score.distance(gen, realMoment)
            out["label_entropy"] = score.summarize(gen).entropy
            out["fid_floor"] = try floor(split, real: realMoment, count: Int(s[5]), batchSize: batchSize)
        }
        return out
    }

    /// The Fréchet distance between as many real training images as the split holds (the
    /// first ones, at most all) and the split's real images: what a perfect generator scores.
    private func floor(_ split: Split, real: [Double], count: Int, batchSize: Int) throws -> Double {
        if let f = floors[split] { return f }
        guard let score else { return .nan }
        let comm = context.communicator
        let train = data.train.subset(Array(0..<min(count, data.train.count)), name: "train[floor]")
        var sums = [Double](repeating: 0, count: score.momentsCount)
        for batch in try EvaluationBatches(dataset: train, batchSize: batchSize, rank: comm.rank, worldSize: comm.size,
                                           normalization: data.normalization) {
            score.accumulate(batch.images, normalizedWith: data.normalization, into: &sums)
        }
        let f = score.distance(try comm.allreduceSum(sums), real)
        floors[split] = f
        return f
    }

    /// Rank 0 writes `samples/epoch-NNN.png`: the fixed latents' images, 8 a row.
    public func epochEvaluated(_ epoch: Int) throws {
        guard context.isRoot else { return }
        let dir = context.runDirectory.appendingPathComponent("samples")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(String(format: "epoch-%03d.png", epoch)).path
        try writeSamples(count: settings.samples, seed: 0, to: path)
        try context.images.add(tag: "samples", pngFile: path)
    }

    /// `count` generated images as a PNG grid; `seed` 0 takes the fixed latents the epochs
    /// render, another seed other latents. Returns the latents and the images (normalised
    /// as the data were).
    @discardableResult
    public func writeSamples(count: Int, seed: UInt64, to path: String) throws -> (latents: Tensor, images: Tensor) {
        let zs = Tensor(shape: [count, latent])
        latents((0..<count).map { UInt64($0) }, salt: Self.fixedSalt &+ seed, into: zs)
        let images = generator.forward(zs, mode: .evaluation).copy()
        try ImageGrid.write(images, columns: min(8, count), stats: data.normalization, to: path)
        return (zs, images)
    }

    public func savedState() -> State { State(sampler: epochs.position, normalization: data.normalization) }
}

extension GANTask {
    /// The task of a GAN checkpoint, its config and its weights restored; `scoring` false
    /// leaves out the classifier of `gan.classifier` (generating needs none).
    static func load(_ url: URL, scoring: Bool) throws -> GANTask {
        let ckpt = try Checkpoint<TaskCheckpointState<State>>.load(from: url)
        let file = url.appendingPathComponent(CheckpointLayout.trainer).path
        var config = ckpt.trainer.run.config
        if !scoring { config.gan?.classifier = nil }
        let loaded = try ConfigLoader.load(yaml: try YAMLEncoder().encode(config), file: file)
        let task = try GANTask(TaskContext(loaded: loaded, communicator: LocalCommunicator(), options: TrainOptions()),
                               saved: SavedTaskState(state: ckpt.trainer.task, file: file))
        try ModelState.apply(ckpt.model, to: task.network, file: url.appendingPathComponent(CheckpointLayout.model).path)
        return task
    }

    /// The registry entry.
    public static let kind = TaskKind(
        GANTask.self, name: "gan", datasets: ["fashion-mnist", "mnist", "idx"],
        dataKeys: ClassificationTask.kind.dataKeys, sections: ["gan"],
        evaluate: { url, request in
            let task = try load(url, scoring: true)
            guard let split = Split(rawValue: request.split), task.splits.contains(split) || split == .train else {
                throw ValidationFailure("this run has no \(request.split) split")
            }
            let values = try task.evaluate(split)
            let scored = values["fid"].map {
                String(format: "; Fréchet distance %.3f (real vs real %.3f), label entropy %.3f by %@", $0,
                       values["fid_floor"] ?? .nan, values["label_entropy"] ?? .nan, task.score?.checkpoint ?? "")
            } ?? ""
            return EvaluationReport(values: values, labels: ["split": request.split],
                                    line: String(format: "%@ %@: D loss %.4f, G loss %.4f, D(x) %.3f, D(G(z)) %.3f%@",
                                                 url.path, request.split, values["d_loss"] ?? .nan, values["g_loss"] ?? .nan,
                                                 values["d_real"] ?? .nan, values["d_fake"] ?? .nan, scored))
        },
        generate: { url, request in
            let task = try load(url, scoring: false)
            guard let output = request.output else {
                throw ValidationFailure("a GAN writes images: give --output FILE.png (and --count)")
            }
            let (latents, images) = try task.writeSamples(count: request.count, seed: request.seed, to: output)
            if let prefix = request.arrays {
                try NumPy.write(latents, to: prefix + "-latents.npy")
                try NumPy.write(images, to: prefix + "-images.npy")
            }
            return "wrote \(request.count) generated images (latents from seed \(request.seed)) to \(output)"
                + (request.arrays.map { "; arrays \($0)-latents.npy, \($0)-images.npy" } ?? "")
        })
}
