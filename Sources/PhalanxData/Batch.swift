// A batch of samples and the synchronous code that makes batches: the assembler gathers
// the images at given indices into a reused [b, C, H, W] tensor, augments and normalises
// them and copies their labels; `EvaluationBatches` walks a data set in order. Also the
// one-hot encoding of labels for losses that take target tensors.
//
// Evaluation does not shuffle or augment. With W ranks, rank r evaluates the r-th
// contiguous shard of the data set (sizes differing by at most one), so the shards hold
// every sample exactly once and sums of losses and correct counts reduce exactly with
// one allreduce at the end. Shards may differ in batch count by one: reduce after the
// pass, not per batch.
import PhalanxCore

/// This rank's samples for one step (or one evaluation chunk).
///
/// `images` belongs to the loader or iterator that made the batch and is overwritten
/// when the next batch is requested; copy it to keep it.
public struct Batch: Sendable {
    /// The pixels, `[count, C, H, W]`, augmented and normalised.
    public let images: Tensor
    /// One class index per sample.
    public let labels: [Int32]
    /// The data set index of each sample.
    public let indices: [Int]
    /// Samples in the whole global batch over all ranks (the divisor of a mean);
    /// for evaluation batches, `count`.
    public let globalCount: Int
    /// The epoch (0 for evaluation).
    public let epoch: Int
    /// The batch's position in its epoch or evaluation pass, from 0.
    public let index: Int
    /// The sampler state that resumes training after this batch; nil for evaluation.
    public let resumeState: ShardedSampler.State?

    /// The number of samples on this rank (may be 0 in a last uneven batch).
    public var count: Int { labels.count }
}

/// Fills batch tensors from a data set: gather, augmentation, normalisation.
public struct BatchAssembler: Sendable {
    /// The data set read from.
    public let dataset: Dataset
    /// Augmentation applied to every sample, or nil.
    public let augmentation: Augmentation?
    /// Normalisation applied to every sample (after crop and flip, before noise), or nil.
    public let normalization: NormalizationStats?
    /// The seed that keys augmentation together with (epoch, sample index).
    public let seed: UInt64

    /// An assembler; the settings are checked against the data set.
    public init(dataset: Dataset, augmentation: Augmentation? = nil,
                normalization: NormalizationStats? = nil, seed: UInt64 = 0) throws(DataError) {
        try augmentation?.validate()
        if let normalization, normalization.channels != dataset.channels {
            throw .invalidSetting(setting: "normalization",
                                  reason: "statistics for \(normalization.channels) channels do not fit "
                                    + "\(dataset.name) with \(dataset.channels)")
        }
        self.dataset = dataset
        self.augmentation = augmentation.flatMap { $0.isIdentity ? nil : $0 }
        self.normalization = normalization.flatMap { $0.method == .none ? nil : $0 }
        self.seed = seed
    }

    /// Writes the samples at `indices` into `images` (resized to `[indices.count, C, H, W]`,
    /// reusing its memory) and their labels into `labels` (keeping its capacity).
    /// Augmentation draws depend only on (seed, epoch, index), never on the batch.
    public func assemble(_ indices: [Int], epoch: Int, into images: Tensor, labels: inout [Int32]) {
        let c = dataset.channels, h = dataset.height, w = dataset.width, size = dataset.sampleSize
        images.resize([indices.count, c, h, w])
        labels.removeAll(keepingCapacity: true)
        let src = dataset.images.data, dst = images.data
        for (k, i) in indices.enumerated() {
            precondition(i >= 0 && i < dataset.count, "BatchAssembler: index \(i) outside 0..<\(dataset.count)")
            labels.append(dataset.labels[i])
            if let augmentation {
                augmentation.apply(src + i * size, into: dst + k * size, channels: c, height: h, width: w,
                                   seed: seed, epoch: epoch, sampleIndex: i, normalization: normalization)
            } else {
                (dst + k * size).update(from: src + i * size, count: size)
                normalization?.normalizeSample(dst + k * size, plane: h * w)
            }
        }
    }
}

/// The batches of one evaluation pass over this rank's shard of a data set, in order.
///
/// Iterating reuses one image buffer per iterator: a batch's `images` are overwritten
/// by the next batch.
public struct EvaluationBatches: Sequence, Sendable {
    /// Fills the batches (no augmentation).
    public let assembler: BatchAssembler
    /// Samples per batch on this rank.
    public let batchSize: Int
    /// The data set indices this rank evaluates.
    public let shard: Range<Int>

    /// Batches of up to `batchSize` samples over rank `rank`'s shard of `dataset`
    /// (all of it when `worldSize` is 1), normalised with `normalization` if given.
    public init(dataset: Dataset, batchSize: Int, rank: Int = 0, worldSize: Int = 1,
                normalization: NormalizationStats? = nil) throws(DataError) {
        guard batchSize > 0 else {
            throw .invalidSetting(setting: "eval_batch_size", reason: "\(batchSize) must be positive")
        }
        guard worldSize > 0, rank >= 0, rank < worldSize else {
            throw .invalidSetting(setting: "rank", reason: "rank \(rank) is not in 0..<\(worldSize)")
        }
        assembler = try BatchAssembler(dataset: dataset, normalization: normalization)
        self.batchSize = batchSize
        shard = ShardedSampler.shard(count: dataset.count, rank: rank, worldSize: worldSize)
    }

    /// The number of batches this rank will see.
    public var batchCount: Int { (shard.count + batchSize - 1) / batchSize }

    /// An iterator from the start of the shard, with its own image buffer.
    public func makeIterator() -> Iterator {
        Iterator(batches: self)
    }

    /// Walks the shard batch by batch, refilling one buffer.
    public struct Iterator: IteratorProtocol {
        private let batches: EvaluationBatches
        private let images: Tensor
        private var labels: [Int32] = []
        private var position: Int
        private var index = 0

        init(batches: EvaluationBatches) {
            self.batches = batches
            let d = batches.assembler.dataset
            images = Tensor(shape: [Swift.min(batches.batchSize, batches.shard.count), d.channels, d.height, d.width])
            labels.reserveCapacity(batches.batchSize)
            position = batches.shard.lowerBound
        }

        /// The next batch, or nil after the last.
        public mutating func next() -> Batch? {
            let end = batches.shard.upperBound
            guard position < end else { return nil }
            let indices = Array(position..<Swift.min(position + batches.batchSize, end))
            batches.assembler.assemble(indices, epoch: 0, into: images, labels: &labels)
            defer { position += indices.count; index += 1 }
            return Batch(images: images, labels: labels, indices: indices, globalCount: indices.count,
                         epoch: 0, index: index, resumeState: nil)
        }
    }
}

extension NormalizationStats {
    /// Normalises one sample `[C, plane]` in place, on the calling thread.
    func normalizeSample(_ p: UnsafeMutablePointer<Float>, plane: Int) {
        guard method != .none else { return }
        for c in 0..<channels {
            let shift = self.shift[c], scale = self.scale[c], q = p + c * plane
            for j in 0..<plane { q[j] = (q[j] - shift) * scale }
        }
    }
}

/// Writes one-hot rows for `labels` into `targets`, resized to `[labels.count, classCount]`.
public func oneHot(_ labels: [Int32], classCount: Int, into targets: Tensor) {
    targets.resize([labels.count, classCount])
    targets.zero()
    for (row, label) in labels.enumerated() {
        precondition(label >= 0 && Int(label) < classCount, "oneHot: label \(label) outside 0..<\(classCount)")
        targets.data[row * classCount + Int(label)] = 1
    }
}

/// One-hot rows `[labels.count, classCount]` for `labels`.
public func oneHot(_ labels: [Int32], classCount: Int) -> Tensor {
    let targets = Tensor(shape: [labels.count, classCount])
    oneHot(labels, classCount: classCount, into: targets)
    return targets
}
