// A labelled image data set held in memory: pixels as one Float tensor [N, C, H, W],
// labels as Int32 class indices. Subsets (validation splits, bootstrap samples) are
// independent copies, so normalising one never changes another.
import Foundation
import PhalanxCore

/// Images `[N, C, H, W]` with one class label each.
///
/// The pixels live in a `Tensor`, a reference type: `NormalizationStats.apply(to:)`
/// changes them in place for every holder of this data set.
public final class Dataset: Sendable, CustomStringConvertible {
    /// The pixels, `[N, C, H, W]`.
    public let images: Tensor
    /// One class index per image, each in `0..<classCount`.
    public let labels: [Int32]
    /// The number of classes the labels index.
    public let classCount: Int
    /// Where the data came from, for messages (a file path or a split's name).
    public let name: String

    /// A data set of `images` (`[N, C, H, W]`) and `labels` (N values in `0..<classCount`).
    public init(images: Tensor, labels: [Int32], classCount: Int, name: String = "dataset") {
        precondition(images.rank == 4, "Dataset: images must be [N, C, H, W], got \(images.shape)")
        precondition(images.shape[0] == labels.count,
                     "Dataset: \(images.shape[0]) images but \(labels.count) labels")
        precondition(classCount > 0 && labels.allSatisfy { $0 >= 0 && Int($0) < classCount },
                     "Dataset: labels must lie in 0..<\(classCount)")
        self.images = images
        self.labels = labels
        self.classCount = classCount
        self.name = name
    }

    /// Loads an IDX pair (gzip or plain). Without `classCount`, it is the largest label
    /// plus one; with it, a larger label is an error naming the labels file.
    public static func load(images imagesPath: String, labels labelsPath: String,
                            classCount: Int? = nil, name: String? = nil) throws(DataError) -> Dataset {
        let images = try IDX.readImages(imagesPath)
        let labels = try IDX.readLabels(labelsPath, classCount: classCount)
        if labels.count != images.shape[0] {
            throw .countMismatch(imagesPath: imagesPath, images: images.shape[0],
                                 labelsPath: labelsPath, labels: labels.count)
        }
        let classes = classCount ?? (Int(labels.max() ?? 0) + 1)
        return Dataset(images: images, labels: labels, classCount: classes, name: name ?? imagesPath)
    }

    /// Where Debian's `dataset-fashion-mnist` installs Fashion-MNIST.
    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// Loads Fashion-MNIST's training (60 000) and test (10 000) sets, 10 classes, from
    /// `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` in `directory`.
    public static func fashionMNIST(directory: String = fashionMNISTDirectory) throws(DataError)
        -> (train: Dataset, test: Dataset) {
        func file(_ stem: String) -> String {
            let plain = (directory as NSString).appendingPathComponent(stem)
            return FileManager.default.fileExists(atPath: plain + ".gz") || !FileManager.default.fileExists(atPath: plain)
                ? plain + ".gz" : plain
        }
        let train = try load(images: file("train-images-idx3-ubyte"), labels: file("train-labels-idx1-ubyte"),
                             classCount: 10, name: "fashion-mnist/train")
        let test = try load(images: file("t10k-images-idx3-ubyte"), labels: file("t10k-labels-idx1-ubyte"),
                            classCount: 10, name: "fashion-mnist/test")
        return (train, test)
    }

    /// The number of samples.
    public var count: Int { labels.count }
    /// Channels per image.
    public var channels: Int { images.shape[1] }
    /// Image height in pixels.
    public var height: Int { images.shape[2] }
    /// Image width in pixels.
    public var width: Int { images.shape[3] }
    /// The shape of one sample, `[C, H, W]`.
    public var sampleShape: [Int] { Array(images.shape.dropFirst()) }
    /// Floats per sample, C·H·W.
    public var sampleSize: Int { channels * height * width }

    public var description: String {
        "Dataset(\(name): \(count) × \(describe(sampleShape)), \(classCount) classes)"
    }

    /// A new data set holding copies of the samples at `indices`, in that order;
    /// repeats are allowed (bootstrap samples). Indices must lie in `0..<count`.
    public func subset(_ indices: [Int], name: String? = nil) -> Dataset {
        let size = sampleSize
        let out = Tensor(shape: [indices.count] + sampleShape)
        let src = images.data, dst = out.data
        var labels = [Int32]()
        labels.reserveCapacity(indices.count)
        for (k, i) in indices.enumerated() {
            precondition(i >= 0 && i < count, "Dataset.subset: index \(i) outside 0..<\(count)")
            (dst + k * size).update(from: src + i * size, count: size)
            labels.append(self.labels[i])
        }
        return Dataset(images: out, labels: labels, classCount: classCount, name: name ?? "\(self.name)[subset]")
    }

    /// Splits off a held-out validation set of `validationFraction` of the samples
    /// (rounded), chosen by a permutation seeded with `seed`. Both parts keep the
    /// original order; together they hold every sample exactly once.
    public func split(validationFraction: Double, seed: UInt64) throws(DataError)
        -> (train: Dataset, validation: Dataset) {
        guard validationFraction > 0 && validationFraction < 1 else {
            throw .invalidSetting(setting: "validation_fraction",
                                  reason: "\(validationFraction) must lie strictly between 0 and 1")
        }
        return try split(validationCount: Int((validationFraction * Double(count)).rounded()), seed: seed)
    }

    /// Splits off a held-out validation set of `validationCount` samples chosen by a
    /// permutation seeded with `seed`.
    public func split(validationCount: Int, seed: UInt64) throws(DataError)
        -> (train: Dataset, validation: Dataset) {
        guard validationCount > 0 && validationCount < count else {
            throw .invalidSetting(setting: "validation_count",
                                  reason: "\(validationCount) validation samples must leave both parts of "
                                    + "\(name) (\(count) samples) non-empty")
        }
        let (train, validation) = Dataset.splitIndices(count: count, validationCount: validationCount, seed: seed)
        return (subset(train, name: "\(name)/train"), subset(validation, name: "\(name)/validation"))
    }

    /// The sorted training and validation indices of `split(validationCount:seed:)`.
    public static func splitIndices(count: Int, validationCount: Int, seed: UInt64) -> (train: [Int], validation: [Int]) {
        var rng = RNG(seed: seed, stream: Streams.validationSplit)
        let order = rng.permutation(count)
        return (order[validationCount...].sorted(), order[..<validationCount].sorted())
    }

    /// `size` (default `count`) indices drawn uniformly with replacement from
    /// `0..<count` (a bootstrap sample for bagging), seeded by `(seed, member)`.
    public static func bootstrapIndices(count: Int, seed: UInt64, member: Int, size: Int? = nil) -> [Int] {
        var rng = RNG(seed: seed, stream: Streams.bootstrap &+ UInt64(member))
        return (0..<(size ?? count)).map { _ in rng.int(below: count) }
    }
}

/// RNG stream tags that keep the data module's random choices apart from each other
/// and from other users of the same seed (weight initialisation uses small streams).
enum Streams {
    static let validationSplit: UInt64 = 0x5350_4C49_5400_0000  // "SPLIT"
    static let bootstrap: UInt64 = 0x424F_4F54_0000_0000        // "BOOT"
    static let epochOrder: UInt64 = 0x4550_4F43_4800_0000       // "EPOCH"
    static let augmentation: UInt64 = 0x4155_474D_0000_0000     // "AUGM"
}
