// What `phalanx analyze` analyses: the pixels of a split (÷255, as scikit-learn users
// feed them) or what a trained network computes from them — the output of one of its
// top-level layers, by default the input of its last (the penultimate features).
//
// Under mpirun each rank reads the split, keeps its contiguous block of samples
// (ShardedSampler.shard, rank order) and runs the forward pass on those only.
import Foundation
import PhalanxAnalysis
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxNN

/// Where the features come from.
public enum FeatureSource: Sendable, Equatable {
    /// Pixel values ÷ 255 of the data a config names (nil: Fashion-MNIST from Debian's directory).
    case pixels(config: String?)
    /// The output of `layer` (nil: the input of the last layer) of a classifier checkpoint.
    case checkpoint(String, layer: String?)
}

/// This rank's features and labels.
public struct FeatureSet {
    /// This rank's rows of the features, with the world they are split over.
    public var shard: Shard
    /// The class label of each of this rank's rows.
    public var labels: [Int]
    /// A name per class, for legends (Fashion-MNIST's, or "class k").
    public var classNames: [String]
    /// What the features are, for the summary ("pixels of the test split", "fc2 of …").
    public var description: String
    /// A short ASCII name for picture titles ("fashion-mnist test pixels", "fashion-lenet layer 10").
    public var title: String
    /// The split and how many samples were taken from it.
    public var split: String
}

public enum FeatureExtraction {
    /// Fashion-MNIST's class names, in label order.
    public static let fashionMNISTClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                             "Sneaker", "Bag", "Ankle boot"]

    /// Reads `split` (test, validation or train) of `source`, its first `limit` samples
    /// (nil: all), this rank's share of them.
    public static func extract(_ source: FeatureSource, split: String, limit: Int?, world: Communicator,
                               batchSize: Int = 500) throws -> FeatureSet {
        guard ["test", "validation", "train"].contains(split) else {
            throw AnalysisError.option("--split", "must be test, validation or train, got '\(split)'")
        }
        if let limit, limit < 1 { throw AnalysisError.option("--limit", "must be at least 1, got \(limit)") }
        switch source {
        case .pixels(let config):
            let experiment: ExperimentConfig
            let fail: (String, String) -> ConfigError
            if let config {
                let loaded = try ConfigLoader.load(path: config)
                experiment = loaded.config
                fail = { loaded.error($0, $1) }
            } else {
                experiment = try ConfigLoader.load(yaml: "name: pixels\nmodel: {input: [1, 28, 28], layers: []}\n",
                                                   file: "<fashion-mnist>").config
                fail = { ConfigError(file: "<fashion-mnist>", key: $0, $1) }
            }
            var raw = experiment
            raw.data.normalize = "none"
            let data = try TrainingData.load(raw, modelReadsImages: false, fail: fail)
            let dataset = try choose(split, of: data, fail: fail)
            let part = try take(dataset, limit: limit, world: world)
            var m = Matrix(part.images)
            for v in m.values.indices { m.values[v] /= 255 }
            return FeatureSet(shard: try Shard(m, world: world), labels: part.labels.map(Int.init),
                              classNames: names(experiment, classes: dataset.classCount),
                              description: "pixels ÷ 255 of the \(split) split (\(dataset.sampleSize) per sample)",
                              title: "\(experiment.data.dataset) \(split) pixels", split: split)
        case .checkpoint(let path, let layer):
            let url = URL(fileURLWithPath: path).resolvingSymlinksInPath()
            let model = try LoadedModel(url)
            guard let sequential = model.network as? Sequential, sequential.children.count >= 2 else {
                throw AnalysisError.option("--checkpoint", "\(path) holds no layered classifier to take features from")
            }
            let children = sequential.children
            let index: Int
            if let layer {
                guard let i = children.firstIndex(where: { $0.name == layer }) else {
                    throw AnalysisError.option("--layer", "the model has no top-level layer '\(layer)'; its layers: "
                        + children.map(\.name).joined(separator: ", "))
                }
                index = i
            } else {
                index = children.count - 2
            }
            let data = try model.data()
            let fail = { (key: String, message: String) in ConfigError(file: url.path, key: key, message) }
            let dataset = try choose(split, of: data, fail: fail)
            let part = try take(dataset, limit: limit, world: world)
            var shape = [1] + dataset.sampleShape
            for child in children.prefix(index + 1) { shape = try child.layer.outputShape(for: shape) }
            let width = shape.dropFirst().reduce(1, *)
            var m = Matrix(rows: part.count, cols: width)
            var row = 0
            for batch in try EvaluationBatches(dataset: part, batchSize: max(1, min(batchSize, part.count)),
                                               normalization: model.normalization) where part.count > 0 {
                var t = batch.images
                for child in children.prefix(index + 1) { t = child.layer.forward(t, mode: .evaluation) }
                for v in 0..<(batch.count * width) { m.values[row * width + v] = t[v] }
                row += batch.count
            }
            return FeatureSet(shard: try Shard(m, world: world), labels: part.labels.map(Int.init),
                              classNames: names(model.config, classes: dataset.classCount),
                              description: "output of layer '\(children[index].name)' (\(width) per sample) of \(url.path) "
                                + "on the \(split) split",
                              title: "\(model.config.name) layer \(children[index].name), \(split)", split: split)
        }
    }

    static func choose(_ split: String, of data: TrainingData, fail: (String, String) -> ConfigError) throws -> Dataset {
        switch split {
        case "train": return data.train
        case "validation":
            guard let v = data.validation else { throw fail("data.validation", "this config holds out no validation split") }
            return v
        default: return data.test
        }
    }

    /// The first `limit` samples, then this rank's block of them.
    static func take(_ dataset: Dataset, limit: Int?, world: Communicator) throws -> Dataset {
        let count = min(limit ?? dataset.count, dataset.count)
        let rows = ShardedSampler.shard(count: count, rank: world.rank, worldSize: world.size)
        return dataset.subset(Array(rows), name: dataset.name)
    }

    static func names(_ config: ExperimentConfig, classes: Int) -> [String] {
        if config.data.dataset == "fashion-mnist" && (config.data.format ?? "idx") == "idx"
            && classes == fashionMNISTClasses.count { return fashionMNISTClasses }
        return (0..<classes).map { "class \($0)" }
    }
}
