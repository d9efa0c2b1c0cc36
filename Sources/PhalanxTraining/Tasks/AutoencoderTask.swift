// Autoencoders (`task: autoencoder`): a network from the layer config learns to output
// its own input through a named code layer h. Its forms, by the `autoencoder:` section:
//   - plain: the reconstruction loss, `mse` per pixel or `bce` on logits;
//   - denoising (Vincent et al., 2008): the input is corrupted in training — masking
//     noise or Gaussian noise, drawn from (seed, epoch, sample index), so N ranks draw
//     what one process draws — and the clean input is the target;
//   - sparse (Ng's lecture notes): β·Σ_j KL(ρ‖ρ̂_j) on the mean activation ρ̂_j of each
//     code unit over the global batch (a sigmoid code layer; the sums are allreduced);
//   - contractive (Rifai et al., 2011): λ‖J‖²_F of the sigmoid code over its linear map,
//     exact (PhalanxNN's ContractivePenalty).
// Metrics: the loss, `mse` per pixel, the code's mean activation, and with noise the
// MSE of reconstructions of corrupted inputs against the clean ones (`denoised_mse`),
// and for a sigmoid code over a linear layer the mean ‖J‖²_F (`jacobian_sq`), so that a
// contractive and a plain autoencoder can be compared.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN
import PhalanxDistributed
import Yams

/// Trains an autoencoder on image data (labels are not used).
public final class AutoencoderTask: TrainingTask {
    public typealias State = ClassificationTask.State

    public static let metrics = [MetricSpec.loss, MetricSpec("mse", .min, label: "mse"),
                                 MetricSpec("denoised_mse", .min, label: "denoised mse"),
                                 MetricSpec("code_mean", .min, label: "code mean"),
                                 MetricSpec("jacobian_sq", .min, label: "‖J‖²")]
    public static let defaultMonitor = "validation_mse"

    let context: TaskContext
    let sequential: Sequential
    public var network: Layer { sequential }
    let settings: AutoencoderConfig
    let codeIndex: Int
    let loss: Loss
    public var data: TrainingData { epochs.data }
    private var epochs: ImageEpochs
    private let corrupted: Tensor
    private let sparsityGradient: Tensor
    /// The top-level layer whose output is the target (nil: the input).
    let targetIndex: Int?
    private let targetCopy = Tensor(shape: [1])
    /// The linear layer under a sigmoid code layer (whose Jacobian is exact), if so.
    let codeLinear: Linear?
    private let contractiveGradient = Tensor(shape: [1])
    private var codeSums: [Double] = []

    public init(_ context: TaskContext, saved: SavedTaskState<State>?) throws {
        self.context = context
        let config = context.config, t = config.train, fail = context.fail, comm = context.communicator
        guard let settings = config.autoencoder else {
            throw fail("autoencoder", "an autoencoder needs an 'autoencoder:' section naming its code layer (code: NAME)")
        }
        self.settings = settings
        if t.batchSize % comm.size != 0 {
            throw fail("train.batch_size", "the global batch of \(t.batchSize) does not split evenly over \(comm.size) ranks")
        }
        if t.loss != "cross_entropy" {
            throw fail("train.loss", "an autoencoder's loss is autoencoder.loss (mse or bce), not train.loss")
        }
        switch settings.loss {
        case "mse": loss = MeanSquaredError()
        case "bce": loss = BinaryCrossEntropy()
        default: throw fail("autoencoder.loss", "unknown loss '\(settings.loss)'; known: mse, bce")
        }
        if settings.loss == "bce" && !["scale", "min_max"].contains(config.data.normalize) {
            throw fail("data.normalize", "bce compares with targets in [0, 1]: use normalize: scale or min_max, not \(config.data.normalize)")
        }
        if let n = settings.noise {
            switch n.kind {
            case "mask": guard n.rate >= 0 && n.rate < 1 else { throw fail("autoencoder.noise.rate", "must lie in [0, 1), got \(n.rate)") }
            case "gaussian": guard n.std >= 0 && n.std.isFinite else { throw fail("autoencoder.noise.std", "must not be negative") }
            default: throw fail("autoencoder.noise.kind", "unknown noise '\(n.kind)'; known: mask, gaussian")
            }
        }
        if let s = settings.sparsity {
            guard s.rho > 0 && s.rho < 1 else { throw fail("autoencoder.sparsity.rho", "must lie in (0, 1), got \(s.rho)") }
            guard s.beta >= 0 && s.beta.isFinite else { throw fail("autoencoder.sparsity.beta", "must not be negative") }
        }
        let built = try ModelBuilder.build(config.model, seed: config.seed, loss: .meanSquaredError, fail: fail)
        try built.checkMemory(samples: t.batchSize / comm.size, fail: fail)
        sequential = built.network
        guard let k = sequential.children.firstIndex(where: { $0.name == settings.code }) else {
            throw fail("autoencoder.code", "no top-level layer is named '\(settings.code)'; the layers are "
                + sequential.children.map(\.name).joined(separator: ", "))
        }
        codeIndex = k
        if settings.sparsity != nil && !(sequential.children[k].layer is Sigmoid) {
            throw fail("autoencoder.sparsity", "the sparsity penalty needs mean activations in (0, 1): make the code layer "
                + "'\(settings.code)' a sigmoid (it is \(sequential.children[k].layer.kind))")
        }
        let sigmoidOverLinear = k > 0 && sequential.children[k].layer is Sigmoid
        codeLinear = sigmoidOverLinear ? sequential.children[k - 1].layer as? Linear : nil
        if let c = settings.contractive {
            guard c.lambda >= 0 && c.lambda.isFinite else { throw fail("autoencoder.contractive.lambda", "must not be negative") }
            guard codeLinear != nil else {
                throw fail("autoencoder.contractive", "the exact Jacobian needs a sigmoid code layer right after a linear "
                    + "layer; '\(settings.code)' is \(sequential.children[k].layer.kind)"
                    + (k > 0 ? " after \(sequential.children[k - 1].layer.kind)" : ""))
            }
        }
        var targetCount = config.model.input.reduce(1, *)
        if let name = settings.target {
            guard let t = sequential.children.firstIndex(where: { $0.name == name }), t < k else {
                throw fail("autoencoder.target", "no top-level layer before the code layer is named '\(name)'; those are "
                    + sequential.children.prefix(k).map(\.name).joined(separator: ", "))
            }
            if let trained = sequential.children.prefix(t + 1).first(where: { $0.layer.parameters.contains(where: \.requiresGrad) }) {
                throw fail("autoencoder.target", "'\(name)' and the layers before it must be frozen (frozen: true), or the "
                    + "network learns to make its own target trivial; '\(trained.name)' is trained")
            }
            targetIndex = t
            var shape = [1] + config.model.input
            for child in sequential.children.prefix(t + 1) { shape = (try? child.layer.outputShape(for: shape)) ?? shape }
            targetCount = shape.dropFirst().reduce(1, *)
        } else {
            targetIndex = nil
        }
        guard built.outputShape.reduce(1, *) == targetCount else {
            throw fail("model.layers", settings.target == nil
                ? "an autoencoder outputs what it reads: \(describe(config.model.input)) per sample, not \(describe(built.outputShape))"
                : "the output of \(describe(built.outputShape)) per sample does not match the \(targetCount) values of target '\(settings.target!)'")
        }
        let data = try TrainingData.load(config, normalization: saved?.state.normalization, fail: fail)
        epochs = try ImageEpochs(data, context: context, saved: saved?.state.sampler)
        corrupted = Tensor(shape: [t.batchSize / comm.size] + config.model.input)
        sparsityGradient = Tensor(shape: [1])
    }

    deinit { epochs.stop() }

    public var splits: [Split] { data.validation == nil ? [.test] : [.validation, .test] }
    public var unit: String { "img/s" }
    public var batchesPerEpoch: Int { epochs.batchesPerEpoch }
    public var resumesMidEpoch: Bool { true }
    /// Sizes, shapes and CRC-32 of every split, as this rank read them.
    public var fingerprint: String { data.fingerprint }
    public var description: String {
        "autoencoder (\(settings.loss)\(settings.noise.map { ", \($0.kind) noise" } ?? "")"
            + "\(settings.sparsity.map { ", sparsity ρ \($0.rho) β \($0.beta)" } ?? "")"
            + "\(settings.contractive.map { ", contractive λ \($0.lambda)" } ?? "")), code layer '\(settings.code)'; "
            + "\(data.train.count) training images\(data.validation.map { ", \($0.count) validation" } ?? ""), \(data.test.count) test"
    }

    public func startEpoch(_ epoch: Int) throws { try epochs.start() }

    /// `images` corrupted as the noise setting says, into `into`, each sample from its own
    /// stream (seed, epoch, data set index).
    func corrupt(_ images: Tensor, indices: [Int], epoch: Int, into out: Tensor) -> Tensor {
        guard let noise = settings.noise else { return images }
        out.resize(images.shape)
        let m = images.count / max(indices.count, 1)
        for (i, index) in indices.enumerated() {
            var rng = RNG(seed: context.config.seed ^ 0xA070_E9C0_DE00_0000, stream: UInt64(epoch) << 32 | UInt64(index))
            let src = images.data + i * m, dst = out.data + i * m
            if noise.kind == "mask" {
                for e in 0..<m { dst[e] = rng.nextFloat() < noise.rate ? 0 : src[e] }
            } else {
                for e in 0..<m { dst[e] = src[e] + rng.normal(std: noise.std) }
            }
        }
        return out
    }

    /// Forward through the children, keeping the code layer's output and the target (a
    /// copy of the target layer's output, or the input itself).
    private func forward(_ x: Tensor, clean: Tensor? = nil, mode: Mode) -> (output: Tensor, code: Tensor, target: Tensor) {
        var t = x, code = x
        var target = clean ?? x
        if targetIndex != nil, let clean, clean !== x {
            // The target comes from the clean input; the corrupted one goes through the network.
            var c = clean
            for child in sequential.children.prefix(targetIndex! + 1) { c = child.layer.forward(c, mode: mode) }
            targetCopy.resize(c.shape)
            targetCopy.copy(from: c)
            target = targetCopy
        }
        for (i, child) in sequential.children.enumerated() {
            t = child.layer.forward(t, mode: mode)
            if i == codeIndex { code = t }
            if i == targetIndex, clean == nil || clean === x {
                targetCopy.resize(t.shape)
                targetCopy.copy(from: t)
                target = targetCopy
            }
        }
        return (t, code, target)
    }

    public func computeGradients(batch index: Int) throws -> StepOutput {
        let batch = epochs.next(index, task: "AutoencoderTask")
        let input = corrupt(batch.images, indices: batch.indices, epoch: batch.epoch, into: corrupted)
        let (y, code, clean) = forward(input, clean: batch.images, mode: .training)
        // The clean images (or the target layer's output of them), seen with the output's shape.
        let (recon, dy) = loss.evaluate(y, target: .values(clean.reshaped(y.shape)), weights: nil,
                                        normalizer: Float(batch.globalCount))
        var total = Double(recon)
        var codeGradient: Tensor?
        if let s = settings.sparsity {
            let (penalty, g) = try sparsity(code, globalCount: batch.globalCount, rho: s.rho, beta: s.beta)
            total += penalty / Double(context.communicator.size)  // each rank's share of the one global penalty
            codeGradient = g
        }
        if let c = settings.contractive, let linear = codeLinear {
            // The direct part of ∂/∂W goes into the gradient now; the rest flows back from the code.
            let penalty = ContractivePenalty(lambda: c.lambda).evaluate(
                code: code, weight: linear.weight.value, normalizer: Float(batch.globalCount),
                codeGradient: contractiveGradient, weightGradient: linear.weight.gradient)
            total += penalty
            if let g = codeGradient {
                for e in 0..<g.count { g[e] += contractiveGradient[e] }
            } else {
                codeGradient = contractiveGradient
            }
        }
        if total.isFinite {
            var g = dy
            for i in sequential.children.indices.reversed() {
                if i == codeIndex, let cg = codeGradient { for e in 0..<g.count { g[e] += cg[e] } }
                let child = sequential.children[i].layer
                g = child.backward(g)
                if let hook = sequential.onGradientsReady, !child.parameters.isEmpty { hook(child.parameters) }
            }
        }
        return StepOutput(loss: total, globalUnits: batch.globalCount, units: batch.count, samples: batch.count)
    }

    /// β·Σ_j KL(ρ‖ρ̂_j) with ρ̂_j the mean of code unit j over the global batch, and its
    /// gradient with respect to this rank's code activations.
    func sparsity(_ code: Tensor, globalCount: Int, rho: Float, beta: Float) throws -> (Double, Tensor) {
        let n = code.shape[0], units = code.count / max(n, 1)
        if codeSums.count != units { codeSums = [Double](repeating: 0, count: units) }
        for j in 0..<units { codeSums[j] = 0 }
        for i in 0..<n { for j in 0..<units { codeSums[j] += Double(code[i * units + j]) } }
        let sums = try context.communicator.allreduceSum(codeSums)
        let g = sparsityGradient
        g.resize(code.shape)
        var penalty = 0.0
        let r = Double(rho), eps = 1e-7
        var dj = [Float](repeating: 0, count: units)
        for j in 0..<units {
            let q = min(max(sums[j] / Double(globalCount), eps), 1 - eps)
            penalty += r * log(r / q) + (1 - r) * log((1 - r) / (1 - q))
            dj[j] = Float(Double(beta) * (-r / q + (1 - r) / (1 - q)) / Double(globalCount))
        }
        for i in 0..<n { for j in 0..<units { g[i * units + j] = dj[j] } }
        return (Double(beta) * penalty, g)
    }

    public func endEpoch(_ epoch: Int) throws { try epochs.end() }

    /// Reconstruction loss and MSE per pixel over this rank's shard, sums reduced; the
    /// code's mean activation; with noise, the MSE of reconstructing corrupted inputs
    /// (corrupted as in epoch 0, the same at every evaluation).
    public func evaluate(_ split: Split) throws -> [String: Double] {
        guard let (batches, batchSize) = try epochs.evaluationBatches(split, context: context) else { return [:] }
        let comm = context.communicator
        let squared = MeanSquaredError()
        let noisyInput = Tensor(shape: [batchSize] + context.config.model.input)
        let probabilities = Tensor(shape: [0])
        // The reconstruction as an image: the output itself, or for bce the sigmoid of its logits.
        func image(_ y: Tensor) -> Tensor {
            guard settings.loss == "bce" else { return y }
            probabilities.resize(y.shape)
            for i in 0..<y.count { probabilities[i] = 1 / (1 + exp(-y[i])) }
            return probabilities
        }
        var lossSum = 0.0, mseSum = 0.0, codeSum = 0.0, denoisedSum = 0.0, count = 0.0, codeUnits = 0.0, jacobianSum = 0.0
        for batch in batches {
            let (y, code, clean) = forward(batch.images, mode: .evaluation)
            let target = LossTarget.values(clean.reshaped(y.shape))
            let n = Double(batch.count)
            lossSum += Double(loss.evaluate(y, target: target, weights: nil, normalizer: nil).loss) * n
            mseSum += Double(squared.evaluate(image(y), target: target, weights: nil, normalizer: nil).loss) * n
            var c = 0.0
            for i in 0..<code.count { c += Double(code[i]) }
            codeSum += c
            codeUnits += Double(code.count)
            count += n
            if let linear = codeLinear { jacobianSum += ContractivePenalty.squaredNorms(code: code, weight: linear.weight.value) }
            if settings.noise != nil {
                let x = corrupt(batch.images, indices: batch.indices, epoch: 0, into: noisyInput)
                let (yn, _, cleanTarget) = forward(x, clean: batch.images, mode: .evaluation)
                denoisedSum += Double(squared.evaluate(image(yn), target: .values(cleanTarget.reshaped(yn.shape)), weights: nil,
                                                       normalizer: nil).loss) * n
            }
        }
        let s = try comm.allreduceSum([lossSum, mseSum, codeSum, codeUnits, count, denoisedSum, jacobianSum])
        let total = max(s[4], 1)
        var out: [String: Double] = ["loss": s[0] / total, "mse": s[1] / total, "code_mean": s[2] / max(s[3], 1)]
        if settings.noise != nil { out["denoised_mse"] = s[5] / total }
        if codeLinear != nil { out["jacobian_sq"] = s[6] / total }
        return out
    }

    /// Rank 0 writes `samples/epoch-NNN.png`: eight test images, (corrupted,) and their
    /// reconstructions, one row each.
    public func epochEvaluated(_ epoch: Int) throws {
        guard context.isRoot, targetIndex == nil else { return }  // a hidden layer's code is no image
        let dir = context.runDirectory.appendingPathComponent("samples")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(String(format: "epoch-%03d.png", epoch)).path
        try writeSamples(to: path)
        try context.images.add(tag: "reconstructions", pngFile: path)
    }

    /// The sample grid of the first test images as a PNG file.
    public func writeSamples(to path: String, count: Int = 8) throws {
        let test = data.test, n = min(count, test.count)
        let shape = test.sampleShape
        guard n > 0 else { return }
        let x = Tensor(shape: [n] + shape)
        x.data.update(from: test.images.data, count: n * test.sampleSize)
        data.normalization?.apply(to: x)
        var rows: [Tensor] = [x.copy()]
        var input = x
        if settings.noise != nil {
            input = corrupt(x, indices: Array(0..<n), epoch: 0, into: Tensor(shape: x.shape)).copy()
            rows.append(input)
        }
        let y = forward(input, mode: .evaluation).output.reshaped(x.shape).copy()
        if settings.loss == "bce" { for i in 0..<y.count { y[i] = 1 / (1 + exp(-y[i])) } }
        rows.append(y)
        try ImageGrid.write(rows, columns: n, stats: data.normalization, to: path)
    }

    public func savedState() -> State { State(sampler: epochs.position, normalization: data.normalization) }
}

extension AutoencoderTask {
    /// The registry entry.
    public static let kind = TaskKind(
        AutoencoderTask.self, name: "autoencoder", datasets: ["fashion-mnist", "mnist", "idx"],
        dataKeys: ClassificationTask.kind.dataKeys, sections: ["autoencoder"],
        evaluate: { url, request in
            let ckpt = try Checkpoint<TaskCheckpointState<State>>.load(from: url)
            let file = url.appendingPathComponent(CheckpointLayout.trainer).path
            let loaded = try ConfigLoader.load(yaml: try YAMLEncoder().encode(ckpt.trainer.run.config), file: file)
            let task = try AutoencoderTask(TaskContext(loaded: loaded, communicator: LocalCommunicator(), options: TrainOptions()),
                                           saved: SavedTaskState(state: ckpt.trainer.task, file: file))
            try ModelState.apply(ckpt.model, to: task.network, file: url.appendingPathComponent(CheckpointLayout.model).path)
            guard let split = Split(rawValue: request.split), task.splits.contains(split) || split == .train else {
                throw ValidationFailure("this run has no \(request.split) split")
            }
            var values = try task.evaluate(split)
            values["step"] = Double(ckpt.step)
            let extra = values["denoised_mse"].map { String(format: ", corrupted inputs %.5f", $0) } ?? ""
            return EvaluationReport(values: values, labels: ["split": request.split],
                                    line: String(format: "%@ %@: reconstruction mse %.5f per pixel%@, code mean %.4f (step %d)",
                                                 url.path, request.split, values["mse"] ?? .nan, extra,
                                                 values["code_mean"] ?? .nan, ckpt.step))
        })
}
