// Which samples each rank trains on, batch by batch.
//
// Epoch e visits the data in a permutation seeded by (seed, e). The permutation is cut
// into global batches of `globalBatchSize` samples; rank r of W takes the r-th of W
// contiguous, equal parts of each, so the ranks' parts laid end to end are exactly the
// batch a single process would train on. The last, incomplete global batch is dropped
// (`dropLast`) or split as evenly as possible, some ranks taking one sample fewer,
// possibly none; `globalCount` then tells every rank the real size to average over.
// Nothing here depends on the world size except which part a rank takes, so a saved
// `State` resumes the same global trajectory at any world size.
import PhalanxCore

/// One rank's part of one global batch.
public struct SampleSlice: Equatable, Sendable {
    /// The epoch the batch belongs to.
    public var epoch: Int
    /// The batch's position in its epoch, from 0.
    public var index: Int
    /// The data set indices this rank trains on, in order (possibly empty in a last batch).
    public var indices: [Int]
    /// How many samples the global batch holds over all ranks: the divisor for a mean
    /// loss or gradient.
    public var globalCount: Int
    /// The sampler state to save so that a resumed run continues after this batch.
    public var resumeState: ShardedSampler.State
}

/// Splits each epoch's seeded permutation into global batches and hands this rank its part.
public struct ShardedSampler: Sendable {
    /// Where the sampler stands: the epoch and the next batch to hand out. Saved in
    /// checkpoints for exact resume.
    public struct State: Codable, Equatable, Sendable {
        /// The current epoch, from 0.
        public var epoch: Int
        /// The index of the next batch of `epoch` to hand out.
        public var nextBatch: Int

        /// A state at `nextBatch` of `epoch`.
        public init(epoch: Int = 0, nextBatch: Int = 0) {
            self.epoch = epoch
            self.nextBatch = nextBatch
        }

        enum CodingKeys: String, CodingKey { case epoch, nextBatch = "next_batch" }
    }

    /// Samples in the data set.
    public let sampleCount: Int
    /// Samples in a global batch, over all ranks.
    public let globalBatchSize: Int
    /// This process's rank, in `0..<worldSize`.
    public let rank: Int
    /// The number of ranks sharing each global batch.
    public let worldSize: Int
    /// The seed of every epoch's permutation.
    public let seed: UInt64
    /// Whether the last incomplete global batch of an epoch is dropped.
    public let dropLast: Bool
    /// Where the sampler stands.
    public private(set) var state: State

    private var order: [Int] = []
    private var orderEpoch = -1

    /// A sampler for rank `rank` of `worldSize`. A global batch size that the world
    /// size does not divide, or an epoch that would hold no batch, is an error.
    public init(sampleCount: Int, globalBatchSize: Int, rank: Int = 0, worldSize: Int = 1,
                seed: UInt64, dropLast: Bool = true, state: State = State()) throws(DataError) {
        guard worldSize > 0, rank >= 0, rank < worldSize else {
            throw .invalidSetting(setting: "rank", reason: "rank \(rank) is not in 0..<\(worldSize)")
        }
        guard globalBatchSize > 0 else {
            throw .invalidSetting(setting: "batch_size", reason: "\(globalBatchSize) must be positive")
        }
        guard globalBatchSize % worldSize == 0 else {
            throw .batchSizeNotDivisible(batchSize: globalBatchSize, worldSize: worldSize)
        }
        guard sampleCount > 0, !dropLast || sampleCount >= globalBatchSize else {
            throw .invalidSetting(setting: "batch_size",
                                  reason: "global batch of \(globalBatchSize) with drop_last leaves no batch "
                                    + "in a data set of \(sampleCount) samples")
        }
        self.sampleCount = sampleCount
        self.globalBatchSize = globalBatchSize
        self.rank = rank
        self.worldSize = worldSize
        self.seed = seed
        self.dropLast = dropLast
        self.state = State()
        try restore(state)
    }

    /// Samples each rank takes from a full global batch.
    public var localBatchSize: Int { globalBatchSize / worldSize }

    /// Global batches in every epoch.
    public var batchesPerEpoch: Int {
        dropLast ? sampleCount / globalBatchSize : (sampleCount + globalBatchSize - 1) / globalBatchSize
    }

    /// Samples seen per epoch over all ranks.
    public var samplesPerEpoch: Int { dropLast ? batchesPerEpoch * globalBatchSize : sampleCount }

    /// The order in which epoch `epoch` visits the data, seeded by `(seed, epoch)`.
    public func permutation(epoch: Int) -> [Int] {
        var rng = RNG(seed: seed, stream: Streams.epochOrder &+ UInt64(truncatingIfNeeded: epoch))
        return rng.permutation(sampleCount)
    }

    /// Samples in global batch `index` (less than `globalBatchSize` only for the last
    /// batch when `dropLast` is false).
    public func globalCount(ofBatch index: Int) -> Int {
        min(globalBatchSize, sampleCount - index * globalBatchSize)
    }

    /// The part `0..<count` of a global batch that `rank` of `worldSize` takes: contiguous,
    /// sizes differing by at most one, lower ranks taking the extra samples.
    public static func shard(count: Int, rank: Int, worldSize: Int) -> Range<Int> {
        let base = count / worldSize, extra = count % worldSize
        let lo = rank * base + min(rank, extra)
        return lo..<(lo + base + (rank < extra ? 1 : 0))
    }

    /// Moves to a saved state (from a checkpoint); a batch beyond the epoch is an error.
    public mutating func restore(_ state: State) throws(DataError) {
        guard state.epoch >= 0, state.nextBatch >= 0, state.nextBatch <= batchesPerEpoch else {
            throw .invalidSetting(setting: "sampler state",
                                  reason: "epoch \(state.epoch), batch \(state.nextBatch) does not exist: an epoch "
                                    + "here has \(batchesPerEpoch) batches (data set or batch size changed?)")
        }
        self.state = state
    }

    /// Whether every batch of the current epoch has been handed out.
    public var epochFinished: Bool { state.nextBatch >= batchesPerEpoch }

    /// This rank's part of the next batch of the current epoch, or nil once the epoch
    /// is finished (call `startNextEpoch()` then).
    public mutating func next() -> SampleSlice? {
        guard !epochFinished else { return nil }
        if orderEpoch != state.epoch {
            order = permutation(epoch: state.epoch)
            orderEpoch = state.epoch
        }
        let index = state.nextBatch
        let count = globalCount(ofBatch: index)
        let part = ShardedSampler.shard(count: count, rank: rank, worldSize: worldSize)
        let start = index * globalBatchSize
        state.nextBatch += 1
        return SampleSlice(epoch: state.epoch, index: index,
                           indices: Array(order[(start + part.lowerBound)..<(start + part.upperBound)]),
                           globalCount: count, resumeState: state)
    }

    /// Moves to the first batch of the following epoch.
    public mutating func startNextEpoch() {
        state = State(epoch: state.epoch + 1, nextBatch: 0)
    }
}
