// Training batches assembled ahead of time on a background thread.
//
// A producer thread walks the sampler through the rest of one epoch and fills a small
// ring of preallocated batch buffers; the training thread takes them in order from a
// bounded queue. The ring holds `prefetch + 1` buffers: the one the trainer is using
// and up to `prefetch` ready or being filled. Which samples a batch holds and how they
// are augmented depend only on the sampler and (seed, epoch, sample index), so the
// batches are the same whatever the timing, and the same as with `prefetch: 0`, which
// assembles each batch on the calling thread.
import Dispatch
import Foundation
import PhalanxCore

/// Yields this rank's batches for the rest of the sampler's current epoch, prepared on
/// a background thread.
///
/// ```swift
/// while sampler.state.epoch < epochs {
///     let loader = try BatchLoader(dataset: train, sampler: sampler, augmentation: aug)
///     for batch in loader { /* step; save batch.resumeState with a checkpoint */ }
///     sampler.startNextEpoch()
/// }
/// ```
/// A batch's `images` stay valid until the next call of `next()`. `stop()` (or releasing
/// the loader) ends the producer early. Use a loader from one thread.
public final class BatchLoader: Sequence, IteratorProtocol {
    private let pipeline: Pipeline

    /// A loader starting at `sampler.state`, assembling with `assembler`, keeping up to
    /// `prefetch` batches (0…8) ready; 0 assembles on the calling thread.
    public init(assembler: BatchAssembler, sampler: ShardedSampler, prefetch: Int = 2) throws(DataError) {
        guard (0...8).contains(prefetch) else {
            throw .invalidSetting(setting: "prefetch", reason: "\(prefetch) must lie in 0...8")
        }
        pipeline = Pipeline(assembler: assembler, sampler: sampler, slots: prefetch + 1)
        if prefetch > 0 { pipeline.start() }
    }

    /// A loader over `dataset`, keying augmentation with the sampler's seed.
    public convenience init(dataset: Dataset, sampler: ShardedSampler, augmentation: Augmentation? = nil,
                            normalization: NormalizationStats? = nil, prefetch: Int = 2) throws(DataError) {
        let assembler = try BatchAssembler(dataset: dataset, augmentation: augmentation,
                                           normalization: normalization, seed: sampler.seed)
        try self.init(assembler: assembler, sampler: sampler, prefetch: prefetch)
    }

    deinit { pipeline.stop() }

    /// The next batch of the epoch, waiting for it if it is not ready; nil at the end
    /// of the epoch or after `stop()`.
    public func next() -> Batch? { pipeline.next() }

    /// Stops the producer and waits for it to exit; later calls of `next()` return nil.
    public func stop() { pipeline.stop() }
}

/// One reusable batch buffer.
private final class Slot {
    let images: Tensor
    var labels: [Int32]

    init(capacity: Int, sampleShape: [Int]) {
        images = Tensor(shape: [capacity] + sampleShape)
        labels = []
        labels.reserveCapacity(capacity)
    }
}

/// The shared state of producer and consumer.
///
/// `@unchecked Sendable` because the compiler cannot see the protocol that makes it
/// safe: `free`, `ready`, `held`, `finished` and `stopped` are touched only under
/// `condition`; a slot is written only by the producer between taking it from `free`
/// and putting it in `ready`, and read only by the consumer while it is `held`;
/// `sampler` belongs to the producer once started (to the caller with prefetch 0).
private final class Pipeline: @unchecked Sendable {
    private let assembler: BatchAssembler
    private var sampler: ShardedSampler
    private let slots: [Slot]
    private let condition = NSCondition()
    private var free: [Int]
    private var ready: [(slot: Int, batch: Batch)] = []
    private var held: Int?
    private var finished = false
    private var stopped = false
    private var running = false
    private let exited = DispatchSemaphore(value: 0)

    init(assembler: BatchAssembler, sampler: ShardedSampler, slots count: Int) {
        self.assembler = assembler
        self.sampler = sampler
        let shape = assembler.dataset.sampleShape
        slots = (0..<count).map { _ in Slot(capacity: sampler.localBatchSize, sampleShape: shape) }
        free = Array((0..<count).reversed())
        ready.reserveCapacity(count)
    }

    func start() {
        running = true
        let thread = Thread { [self] in produce() }
        thread.name = "phalanx.data"
        thread.start()
    }

    /// Fills `slot` with `slice` and describes it as a batch.
    private func fill(_ slot: Slot, _ slice: SampleSlice) -> Batch {
        assembler.assemble(slice.indices, epoch: slice.epoch, into: slot.images, labels: &slot.labels)
        return Batch(images: slot.images, labels: slot.labels, indices: slice.indices,
                     globalCount: slice.globalCount, epoch: slice.epoch, index: slice.index,
                     resumeState: slice.resumeState)
    }

    private func produce() {
        while let slice = sampler.next() {
            condition.lock()
            while free.isEmpty && !stopped { condition.wait() }
            if stopped { condition.unlock(); break }
            let id = free.removeLast()
            condition.unlock()

            let batch = fill(slots[id], slice)

            condition.lock()
            ready.append((id, batch))
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
        exited.signal()
    }

    func next() -> Batch? {
        if !running {
            // prefetch 0: assemble here, into the one slot.
            if stopped { return nil }
            return sampler.next().map { fill(slots[0], $0) }
        }
        condition.lock()
        defer { condition.unlock() }
        if let id = held {
            free.append(id)
            held = nil
            condition.broadcast()
        }
        while ready.isEmpty && !finished && !stopped { condition.wait() }
        if stopped || ready.isEmpty { return nil }
        let (id, batch) = ready.removeFirst()
        held = id
        return batch
    }

    func stop() {
        condition.lock()
        let wait = running && !stopped
        stopped = true
        condition.broadcast()
        condition.unlock()
        if wait { exited.wait() }
    }
}
