// The batches of image tasks (classification, autoencoders): this rank's slice of each
// global batch of the epoch's seeded permutation, assembled by a BatchLoader, and the
// sampler position a checkpoint keeps — at an epoch boundary or inside an epoch.
import PhalanxData

/// One image task's passage through its training split, epoch by epoch.
struct ImageEpochs {
    let data: TrainingData
    private(set) var sampler: ShardedSampler
    private var loader: BatchLoader?
    private var lastState: ShardedSampler.State?
    /// The batch handed out last, with its index in the epoch.
    private var current: (Int, Batch)?

    /// The sampler of `data.train` for this rank, at `saved` when resuming.
    init(_ data: TrainingData, context: TaskContext, saved: ShardedSampler.State?) throws {
        self.data = data
        let t = context.config.train, comm = context.communicator
        sampler = try ShardedSampler(sampleCount: data.train.count, globalBatchSize: t.batchSize, rank: comm.rank,
                                     worldSize: comm.size, seed: context.config.seed, dropLast: t.dropLast)
        if let saved { try sampler.restore(saved) }
    }

    var batchesPerEpoch: Int { sampler.batchesPerEpoch }

    /// Starts the epoch's loader where the sampler stands.
    mutating func start() throws {
        loader?.stop()
        loader = try BatchLoader(dataset: data.train, sampler: sampler, augmentation: data.augmentation,
                                 normalization: data.normalization)
        lastState = nil
        current = nil
    }

    /// Batch `index` of the epoch: the next one from the loader (the loop asks for exactly
    /// as many as there are), or the same batch again when a line search evaluates it anew.
    mutating func next(_ index: Int, task: String) -> Batch {
        if let (i, batch) = current, i == index { return batch }
        guard let batch = loader?.next() else {
            preconditionFailure("\(task): the loader ended before batch \(index) of \(batchesPerEpoch)")
        }
        lastState = batch.resumeState
        current = (index, batch)
        return batch
    }

    /// After the epoch's last batch: the sampler moves on to the next epoch.
    mutating func end() throws {
        stop()
        if let s = lastState { try sampler.restore(s) }
        lastState = nil
        current = nil
        sampler.startNextEpoch()
    }

    func stop() { loader?.stop() }

    /// Where a checkpoint taken now resumes: after the last batch trained inside the
    /// epoch, or at the next epoch.
    var position: ShardedSampler.State { lastState ?? sampler.state }

    /// This rank's shard of `split` in batches of the global batch's share (at most the
    /// split), normalised as the training data; nil when the run has no such split.
    func evaluationBatches(_ split: Split, context: TaskContext) throws -> (batches: EvaluationBatches, batchSize: Int)? {
        guard let dataset = dataset(split) else { return nil }
        let comm = context.communicator
        let batchSize = max(1, min(context.config.train.batchSize / comm.size, dataset.count))
        return (try EvaluationBatches(dataset: dataset, batchSize: batchSize, rank: comm.rank, worldSize: comm.size,
                                      normalization: data.normalization), batchSize)
    }

    /// The split a task evaluates (nil: the run has none).
    func dataset(_ split: Split) -> Dataset? {
        switch split {
        case .train: data.train
        case .validation: data.validation
        case .test: data.test
        }
    }
}
