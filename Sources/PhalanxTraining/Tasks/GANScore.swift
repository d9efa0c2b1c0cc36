// How good a GAN's samples are, by a classifier Phalanx trained on the same data: the
// Fréchet distance between its penultimate-layer features of generated and of real
// images (the FID of Heusel et al., 2017, with a Fashion-MNIST classifier in place of
// Inception), and the entropy of its predicted labels over the generated images (mode
// coverage: ln 10 ≈ 2.303 when every class is drawn equally often).
//
// Under mpirun every rank scores its shard; the sums (count, Σf, Σffᵀ, label counts) are
// allreduced, so the figures are those of one process.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN

/// A trained classifier's view of images: features and predicted labels.
final class GANScore {
    let checkpoint: String
    /// The classifier's test accuracy, for the record (what the features are worth).
    let testAccuracy: Double
    let classifier: Sequential
    /// The child whose output are the features, and its name.
    let featureIndex: Int
    let featureName: String
    let dimension: Int
    let classes: Int
    let stats: NormalizationStats?
    private let scratch = Tensor(shape: [1])

    /// Loads a classification checkpoint; the features are the output of `layer` (a
    /// top-level layer), by default the input of its last layer.
    init(checkpoint: String, layer: String?, imageShape: [Int], fail: (String, String) -> ConfigError) throws {
        let model: LoadedModel
        do {
            model = try LoadedModel(URL(fileURLWithPath: checkpoint))
        } catch {
            throw fail("gan.classifier", "\(error)")
        }
        guard model.config.model.input == imageShape, let sequential = model.network as? Sequential else {
            throw fail("gan.classifier", "\(checkpoint) reads \(describe(model.config.model.input)) images, these are \(describe(imageShape))")
        }
        let children = sequential.children
        let index: Int
        if let layer {
            guard let i = children.firstIndex(where: { $0.name == layer }), i < children.count - 1 else {
                throw fail("gan.feature_layer", "the classifier has no top-level layer '\(layer)' before its last; its layers: "
                    + children.map(\.name).joined(separator: ", "))
            }
            index = i
        } else {
            index = children.count - 2
        }
        guard index >= 0 else { throw fail("gan.classifier", "the classifier needs at least two layers") }
        var shape = [1] + imageShape
        for child in children.prefix(index + 1) { shape = try child.layer.outputShape(for: shape) }
        self.checkpoint = checkpoint
        classifier = sequential
        featureIndex = index
        featureName = children[index].name
        dimension = shape.dropFirst().reduce(1, *)
        guard dimension <= 4096 else {
            throw fail("gan.feature_layer", "'\(featureName)' has \(dimension) values per image; choose a layer of at most 4096")
        }
        classes = try sequential.outputShape(for: [1] + imageShape).dropFirst().reduce(1, *)
        stats = model.normalization
        testAccuracy = (try? CheckpointEvaluation.run(checkpoint: URL(fileURLWithPath: checkpoint), split: "test",
                                                      batchSize: 500).accuracy) ?? .nan
    }

    /// The flat sums `accumulate` adds to: count, Σf, Σffᵀ, label counts.
    var momentsCount: Int { 1 + dimension + dimension * dimension + classes }

    /// Adds `images` (normalised with `from`, the GAN's statistics) to `moments`.
    func accumulate(_ images: Tensor, normalizedWith from: NormalizationStats?, into moments: inout [Double]) {
        scratch.resize(images.shape)
        scratch.copy(from: images)
        // Back to pixel values, then as the classifier was trained.
        if let s = from, s.method != .none {
            let c = s.channels, plane = images.count / max(images.shape[0] * c, 1)
            for i in 0..<images.count { scratch[i] = s.pixelValue(scratch[i], channel: (i / plane) % c) }
        }
        stats?.apply(to: scratch)
        var t: Tensor = scratch
        var features = scratch
        for (i, child) in classifier.children.enumerated() {
            t = child.layer.forward(t, mode: .evaluation)
            if i == featureIndex { features = t.copy() }
        }
        let n = images.shape[0], f = dimension
        moments[0] += Double(n)
        for s in 0..<n {
            let row = features.data + s * f
            for a in 0..<f {
                let x = Double(row[a])
                moments[1 + a] += x
                let base = 1 + f + a * f
                for b in a..<f { moments[base + b] += x * Double(row[b]) }
            }
            var best = 0
            for k in 1..<classes where t[s * classes + k] > t[s * classes + best] { best = k }
            moments[1 + f + f * f + best] += 1
        }
    }

    /// Mean and covariance (unbiased) of the features, and the entropy of the labels.
    func summarize(_ moments: [Double]) -> (mean: [Double], cov: [Double], entropy: Double) {
        let f = dimension, n = max(moments[0], 2)
        let mean = (0..<f).map { moments[1 + $0] / n }
        var cov = [Double](repeating: 0, count: f * f)
        for a in 0..<f {
            for b in a..<f {
                let c = (moments[1 + f + a * f + b] - n * mean[a] * mean[b]) / (n - 1)
                cov[a * f + b] = c; cov[b * f + a] = c
            }
        }
        var entropy = 0.0
        for k in 0..<classes {
            let p = moments[1 + f + f * f + k] / n
            if p > 0 { entropy -= p * log(p) }
        }
        return (mean, cov, entropy)
    }

    /// The Fréchet distance between the features of two sets of moments.
    func distance(_ a: [Double], _ b: [Double]) -> Double {
        let x = summarize(a), y = summarize(b)
        return SymmetricEigen.frechetDistance(mean1: x.mean, cov1: x.cov, mean2: y.mean, cov2: y.cov, n: dimension)
    }
}
