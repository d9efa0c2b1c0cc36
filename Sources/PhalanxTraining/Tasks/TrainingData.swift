// Loads the data a config names: training (and validation) and test splits, with
// normalisation statistics fitted on the training split.
import PhalanxCore
import PhalanxData

/// The splits of one experiment, raw (normalisation is applied per batch).
public struct TrainingData {
    public let train: Dataset
    public let validation: Dataset?
    public let test: Dataset
    /// Fitted on `train`; nil for `normalize: none`.
    public let normalization: NormalizationStats?
    /// Augmentation for training batches, nil when off.
    public let augmentation: Augmentation?

    /// Loads per `config.data`; `normalization` (from a checkpoint) replaces fitting.
    /// `modelReadsImages` false (a GAN's generator reads latents) skips the check of
    /// `model.input` against the images.
    public static func load(_ config: ExperimentConfig, normalization saved: NormalizationStats? = nil,
                            modelReadsImages: Bool = true,
                            fail: (String, String) -> ConfigError) throws -> TrainingData {
        let d = config.data
        for (key, value) in [("validation", d.validation), ("limit", d.limit), ("crop_padding", d.cropPadding)] where value < 0 {
            throw fail("data.\(key)", "must not be negative, got \(value)")
        }
        if !(d.noiseStd >= 0) { throw fail("data.noise_std", "must not be negative, got \(d.noiseStd)") }
        let (train, test) = try loadFiles(d, fail: fail)
        // The model reads images of the data's shape, and every split has that shape.
        if modelReadsImages && train.sampleShape != config.model.input {
            throw fail("model.input", "the model reads \(describe(config.model.input)) per sample but the training images "
                + "are \(describe(train.sampleShape))")
        }
        if test.sampleShape != train.sampleShape {
            throw fail(d.test != nil ? "data.test" : d.testImages == nil ? "data.directory" : "data.test_images", "the test images are "
                + "\(describe(test.sampleShape)) but the training images \(describe(train.sampleShape))")
        }
        if d.cropPadding > min(train.height, train.width) {
            throw fail("data.crop_padding", "\(d.cropPadding) pixels is more than the \(train.height)×\(train.width) images")
        }
        var trainPart = train
        if d.limit > 0 && d.limit < train.count {
            trainPart = train.subset(Array(0..<d.limit), name: train.name)
        }
        var validation: Dataset?
        if d.validation > 0 {
            guard d.validation < trainPart.count else {
                throw fail("data.validation", "holds out \(d.validation) of \(trainPart.count) training samples; leave some to train on")
            }
            let split = try trainPart.split(validationCount: d.validation, seed: d.splitSeed ?? config.seed)
            trainPart = split.train
            validation = split.validation
        }
        if d.labelsPerClass < 0 { throw fail("data.labels_per_class", "must not be negative, got \(d.labelsPerClass)") }
        if d.labelsPerClass > 0 {
            trainPart = try fewLabels(trainPart, perClass: d.labelsPerClass, seed: config.seed, fail: fail)
        }
        guard let method = NormalizationMethod(rawValue: d.normalize) else {
            throw fail("data.normalize", "unknown method '\(d.normalize)'; known: \(NormalizationMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let stats = saved ?? (method == .none ? nil : NormalizationStats.fit(method, to: trainPart.images))
        let augmentation = Augmentation(cropPadding: d.cropPadding, horizontalFlip: d.horizontalFlip, noiseStd: d.noiseStd)
        do {
            try augmentation.validate()
        } catch {
            throw fail("data", "\(error)")
        }
        return TrainingData(train: trainPart, validation: validation, test: test, normalization: stats,
                            augmentation: augmentation.isIdentity ? nil : augmentation)
    }

    /// Sizes, shapes and CRC-32 of every split's images and labels, as this process read
    /// them: what the ranks of a job compare before they train.
    public var fingerprint: String {
        func crc(_ d: Dataset) -> String {
            let images = crc32Checksum(UnsafeRawBufferPointer(start: d.images.data, count: d.images.count * 4))
            let labels = d.labels.withUnsafeBytes { crc32Checksum($0) }
            return "\(d.name) \(d.count)×\(describe(d.sampleShape)) crc \(hex(images))/\(hex(labels))"
        }
        return ([train] + (validation.map { [$0] } ?? []) + [test]).map(crc).joined(separator: ", ")
    }

    /// The same splits with the training split replaced by its samples at `indices`
    /// (repeats allowed), keeping the normalisation fitted on the whole split.
    public func training(on indices: [Int]) throws -> TrainingData {
        guard !indices.isEmpty else { throw DataError.invalidSetting(setting: "train_indices", reason: "no samples to train on") }
        if let bad = indices.first(where: { $0 < 0 || $0 >= train.count }) {
            throw DataError.invalidSetting(setting: "train_indices",
                                           reason: "index \(bad) is outside the training split of \(train.count) samples")
        }
        return TrainingData(train: train.subset(indices, name: "\(train.name)[resampled]"), validation: validation,
                            test: test, normalization: normalization, augmentation: augmentation)
    }

    /// `perClass` samples of each class of `train`: the first of each class in a
    /// permutation seeded by `seed`, in data set order.
    static func fewLabels(_ train: Dataset, perClass: Int, seed: UInt64,
                          fail: (String, String) -> ConfigError) throws -> Dataset {
        var rng = RNG(seed: seed, stream: 7700)
        var taken = [Int](repeating: 0, count: train.classCount)
        var chosen: [Int] = []
        for i in rng.permutation(train.count) {
            let label = Int(train.labels[i])
            if taken[label] < perClass { taken[label] += 1; chosen.append(i) }
        }
        if let short = taken.indices.first(where: { taken[$0] < perClass }) {
            throw fail("data.labels_per_class", "class \(short) has only \(taken[short]) training samples, fewer than \(perClass)")
        }
        return train.subset(chosen.sorted(), name: "\(train.name)[\(perClass) per class]")
    }

    private static func loadFiles(_ d: DataConfig, fail: (String, String) -> ConfigError) throws -> (Dataset, Dataset) {
        if let format = d.format, format != "idx" { return try loadFormat(format, d, fail: fail) }
        try refuseFormatKeys(d, fail: fail)
        switch d.dataset {
        case "fashion-mnist", "mnist":
            if d.dataset == "fashion-mnist" && d.trainImages == nil {
                return try Dataset.fashionMNIST(directory: d.directory)
            }
            fallthrough
        case "idx":
            func path(_ v: String?, _ key: String, _ standard: String) throws -> String {
                if let v { return v.hasPrefix("/") || d.directory.isEmpty ? v : d.directory + "/" + v }
                guard d.dataset != "idx" else { throw fail("data." + key, "an idx data set needs '\(key)'") }
                return d.directory + "/" + standard
            }
            let train = try Dataset.load(images: try path(d.trainImages, "train_images", "train-images-idx3-ubyte.gz"),
                                         labels: try path(d.trainLabels, "train_labels", "train-labels-idx1-ubyte.gz"),
                                         name: "train")
            let test = try Dataset.load(images: try path(d.testImages, "test_images", "t10k-images-idx3-ubyte.gz"),
                                        labels: try path(d.testLabels, "test_labels", "t10k-labels-idx1-ubyte.gz"),
                                        classCount: train.classCount, name: "test")
            return (train, test)
        default:
            throw fail("data.dataset", "unknown data set '\(d.dataset)'; known: fashion-mnist, mnist, idx")
        }
    }
}
