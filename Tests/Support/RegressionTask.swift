// A task written the way a new one is added: one file, one type, one registry entry.
//
// Linear regression with MSE on generated data: x ~ U(-1, 1)^features, y = w·x + b + noise
// with w, b drawn from the seed. The model is whatever the layer config says (a `linear`
// layer recovers w and b). Its `data` section is its own: `samples`, `features`, `noise`,
// `validation`, `test_samples` — the strict config check refuses anything else there.
import Foundation
import PhalanxCore
import PhalanxNN
import PhalanxTraining

/// Regression on generated data (`task: regression`).
public final class RegressionTask: TrainingTask {
    public typealias State = NoTaskState

    /// The `data:` section of a regression config.
    struct DataSection: Decodable {
        var samples = 256, features = 4, validation = 64, testSamples = 64
        var noise: Float = 0.05
        enum CodingKeys: String, CodingKey {
            case samples, features, noise, validation, testSamples = "test_samples"
        }
        init() {}
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = DataSection()
            samples = try c.decodeIfPresent(Int.self, forKey: .samples) ?? d.samples
            features = try c.decodeIfPresent(Int.self, forKey: .features) ?? d.features
            noise = try c.decodeIfPresent(Float.self, forKey: .noise) ?? d.noise
            validation = try c.decodeIfPresent(Int.self, forKey: .validation) ?? d.validation
            testSamples = try c.decodeIfPresent(Int.self, forKey: .testSamples) ?? d.testSamples
        }
    }

    public static let metrics = [MetricSpec.loss]
    public static let defaultMonitor = "validation_loss"
    public static let kind = TaskKind(RegressionTask.self, name: "regression", datasets: ["regression"],
                                      dataKeys: ["samples", "features", "noise", "validation", "test_samples"])

    let context: TaskContext
    public let network: Layer
    let features: Int
    /// Inputs and targets of each split, row-major.
    let x: [Split: [Float]], y: [Split: [Float]]
    let loss = MeanSquaredError()
    public let batchesPerEpoch: Int
    private var order: [Int] = []
    private let inputs: Tensor, targets: Tensor

    public init(_ context: TaskContext, saved: SavedTaskState<NoTaskState>?) throws {
        self.context = context
        let d = try context.loaded.section("data", as: DataSection.self) ?? DataSection()
        let fail = context.fail, batch = context.config.train.batchSize
        guard d.samples > 0, d.features > 0 else { throw fail("data.samples", "samples and features must be positive") }
        guard batch % context.communicator.size == 0 else {
            throw fail("train.batch_size", "\(batch) does not split over \(context.communicator.size) ranks")
        }
        features = d.features
        var rng = RNG(seed: context.config.seed, stream: 900)
        let w = (0..<d.features).map { _ in rng.uniform(-1, 1) }, b = rng.uniform(-1, 1)
        var xs: [Split: [Float]] = [:], ys: [Split: [Float]] = [:]
        for (split, n) in [(Split.train, d.samples), (.validation, d.validation), (.test, d.testSamples)] {
            var xv: [Float] = [], yv: [Float] = []
            for _ in 0..<n {
                let row = (0..<d.features).map { _ in rng.uniform(-1, 1) }
                xv += row
                yv.append(zip(row, w).reduce(b) { $0 + $1.0 * $1.1 } + d.noise * rng.uniform(-1, 1))
            }
            xs[split] = xv; ys[split] = yv
        }
        x = xs; y = ys
        let built = try ModelBuilder.build(context.config.model, seed: context.config.seed, loss: .meanSquaredError, fail: fail)
        guard built.outputShape == [1] else { throw fail("model.layers", "a regression model outputs [1], not \(built.outputShape)") }
        network = built.network
        batchesPerEpoch = d.samples / batch
        guard batchesPerEpoch > 0 else { throw fail("train.batch_size", "\(d.samples) samples make no batch of \(batch)") }
        inputs = Tensor(shape: [batch / context.communicator.size, d.features])
        targets = Tensor(shape: [batch / context.communicator.size, 1])
    }

    public var splits: [Split] { [.validation, .test] }
    public var resumesMidEpoch: Bool { true }
    public var unit: String { "samples/s" }
    public var description: String { "\(y[.train]!.count) samples of \(features) features" }

    public func startEpoch(_ epoch: Int) throws {
        var rng = RNG(seed: context.config.seed, stream: 2000 + UInt64(epoch))
        order = rng.permutation(y[.train]!.count)
    }

    public func computeGradients(batch index: Int) throws -> StepOutput {
        let global = context.config.train.batchSize
        let mine = context.share(global)
        let xs = x[.train]!, ys = y[.train]!
        for (r, i) in order[(index * global + mine.lowerBound)..<(index * global + mine.upperBound)].enumerated() {
            for f in 0..<features { inputs[r * features + f] = xs[i * features + f] }
            targets[r] = ys[i]
        }
        let out = network.forward(inputs, mode: .training)
        let (l, g) = loss.evaluate(out, target: .values(targets), weights: nil, normalizer: Float(global))
        _ = network.backward(g)
        return StepOutput(loss: Double(l), globalUnits: global, units: mine.count, samples: mine.count)
    }

    /// Mean squared error of a split, every rank on all of it (the split is small).
    public func evaluate(_ split: Split) throws -> [String: Double] {
        let xs = x[split]!, ys = y[split]!, n = ys.count
        guard n > 0 else { return [:] }
        let input = Tensor(shape: [n, features]), target = Tensor(shape: [n, 1])
        for i in 0..<(n * features) { input[i] = xs[i] }
        for i in 0..<n { target[i] = ys[i] }
        let out = network.forward(input, mode: .evaluation)
        return ["loss": Double(loss.evaluate(out, target: .values(target), weights: nil, normalizer: nil).loss)]
    }

    public func savedState() -> NoTaskState { NoTaskState() }
}
