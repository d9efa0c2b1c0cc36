// Weight-space aggregation of checkpoints: a uniform (or weighted) soup of compatible
// checkpoints, the average of a run's last K checkpoints, and a greedy soup that adds
// ingredients only while held-out accuracy does not drop (Wortsman et al. 2022). Every
// result is re-estimated for batch norm and written as a normal checkpoint.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN
import PhalanxTraining

/// What a soup came to.
public struct SoupResult: Codable, Sendable {
    /// The checkpoints averaged, in order.
    public var ingredients: [String]
    /// Each candidate's accuracy alone on the held-out split (greedy soup) or the test split.
    public var ingredientAccuracies: [Double]
    public var validationAccuracy: Double?
    public var testAccuracy: Double
    /// Batch-norm layers whose statistics were re-estimated.
    public var batchNormLayers: Int
    /// The written checkpoint.
    public var checkpoint: String

    enum CodingKeys: String, CodingKey {
        case ingredients, checkpoint
        case ingredientAccuracies = "ingredient_accuracies", validationAccuracy = "validation_accuracy"
        case testAccuracy = "test_accuracy", batchNormLayers = "batch_norm_layers"
    }
}

/// Soups and checkpoint averages.
public enum Aggregation {
    /// The newest `k` checkpoints of the run at `run` (a run directory, its
    /// `checkpoints/` directory, or a checkpoint inside it), oldest first.
    public static func lastCheckpoints(of run: URL, k: Int) throws -> [URL] {
        var dir = run.resolvingSymlinksInPath()
        if CheckpointLayout.step(fromDirectoryName: dir.lastPathComponent) != nil { dir = dir.deletingLastPathComponent() }
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoints").path) {
            dir = dir.appendingPathComponent("checkpoints")
        }
        let store = CheckpointStore(directory: dir)
        let steps = store.steps()
        guard !steps.isEmpty else { throw IncompatibleCheckpoints(message: "\(run.path): no checkpoints found") }
        guard k >= 1 else { throw IncompatibleCheckpoints(message: "--last must be at least 1") }
        if steps.count < k {
            throw IncompatibleCheckpoints(message: "\(dir.path) keeps \(steps.count) checkpoint\(steps.count == 1 ? "" : "s"), fewer than \(k) "
                + "(raise checkpoint.keep when training to average more)")
        }
        return steps.suffix(k).map { store.url(step: $0) }
    }

    /// The weighted average of `checkpoints` (equal weights by default), with batch-norm
    /// statistics re-estimated on the training split, evaluated, and written to
    /// `output/checkpoints/`.
    public static func soup(_ checkpoints: [URL], weights: [Double]? = nil, output: URL,
                            say: (String) -> Void = { _ in }) throws -> SoupResult {
        let models = try checkpoints.map { try LoadedModel($0) }
        let data = try models[0].data()
        let accuracies = try models.map { try accuracy($0.network, on: data.test, normalization: $0.normalization) }
        let model = models[0]  // its network becomes the soup; its read tensors stay as they were
        let bn = try mix(models, weights: weights, into: model, data: data)
        let test = try accuracy(model.network, on: data.test, normalization: model.normalization)
        let validation = try data.validation.map { try accuracy(model.network, on: $0, normalization: model.normalization) }
        let written = try write(model, output: output)
        say("averaged \(checkpoints.count) checkpoints\(bn > 0 ? ", re-estimated \(bn) batch norms" : "") → \(written.path)")
        return SoupResult(ingredients: checkpoints.map(\.path), ingredientAccuracies: accuracies, validationAccuracy: validation,
                          testAccuracy: test, batchNormLayers: bn, checkpoint: written.path)
    }

    /// Greedy soup: ingredients sorted by held-out (validation) accuracy, best first;
    /// each is added when the soup's held-out accuracy does not drop.
    public static func greedySoup(_ checkpoints: [URL], output: URL, say: (String) -> Void = { _ in }) throws -> SoupResult {
        let models = try checkpoints.map { try LoadedModel($0) }
        let data = try models[0].data()
        guard let heldOut = data.validation else {
            throw IncompatibleCheckpoints(message: "a greedy soup is chosen on held-out data, but \(checkpoints[0].path) was "
                + "trained without a validation split (data.validation: 0); train with data.validation set")
        }
        let accuracies = try models.map { try accuracy($0.network, on: heldOut, normalization: $0.normalization) }
        let order = accuracies.indices.sorted { accuracies[$0] != accuracies[$1] ? accuracies[$0] > accuracies[$1] : $0 < $1 }
        let soup = models[order[0]]  // holds each candidate soup; mixing reads the checkpoints' tensors
        var chosen = [order[0]]
        var best = accuracies[order[0]]
        say(String(format: "greedy soup: start with %@ (validation %.4f)", checkpoints[order[0]].path, best))
        for i in order.dropFirst() {
            try mix((chosen + [i]).map { models[$0] }, weights: nil, into: soup, data: data)
            let a = try accuracy(soup.network, on: heldOut, normalization: soup.normalization)
            let keep = a >= best
            say(String(format: "  %@ %@: soup validation %.4f", keep ? "add " : "skip", checkpoints[i].path, a))
            if keep { chosen.append(i); best = a }
        }
        let bn = try mix(chosen.map { models[$0] }, weights: nil, into: soup, data: data)
        let test = try accuracy(soup.network, on: data.test, normalization: soup.normalization)
        let written = try write(soup, output: output)
        return SoupResult(ingredients: chosen.map { checkpoints[$0].path }, ingredientAccuracies: chosen.map { accuracies[$0] },
                          validationAccuracy: best, testAccuracy: test, batchNormLayers: bn, checkpoint: written.path)
    }

    /// Puts the average of `models`' weights (as read from their checkpoints) into
    /// `target`'s network and re-estimates its batch norms; returns how many.
    @discardableResult
    static func mix(_ models: [LoadedModel], weights: [Double]?, into target: LoadedModel, data: TrainingData) throws -> Int {
        let averaged = try WeightAveraging.average(models.map { ($0.checkpoint.path, $0.state) }, weights: weights)
        try ModelState.apply(averaged, to: target.network, file: models[0].checkpoint.path)
        return try WeightAveraging.reestimateBatchNorm(target.network, on: data.train, normalization: target.normalization)
    }

    /// The fraction of `dataset` that `model` classifies right.
    static func accuracy(_ model: Layer, on dataset: Dataset, normalization: NormalizationStats?) throws -> Double {
        let p = try LoadedModel.probabilities(model, on: dataset, normalization: normalization)
        return Voting.accuracy(Voting.argmax(p), labels: dataset.labels)
    }

    /// Writes `model` as a checkpoint in `output/checkpoints/` (same step and trainer
    /// state as its first ingredient, no optimizer state), so `evaluate`, `inspect` and
    /// PyTorch take it like any other.
    static func write(_ model: LoadedModel, output: URL) throws -> URL {
        let store = CheckpointStore(directory: output.appendingPathComponent("checkpoints"))
        return try store.save(step: model.step, model: ModelState.tensors(of: model.network), optimizer: SafeTensors(),
                              trainer: model.trainer)
    }
}
