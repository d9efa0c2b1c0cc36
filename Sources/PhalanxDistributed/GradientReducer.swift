// Sums gradients across ranks in buckets, overlapping the reduction with backward.
//
// Buckets are flat Float buffers of about `bucketBytes`, filled with the parameters in
// reverse model order — the order backward finishes them. Each parameter's gradient
// tensor is moved into its bucket (PyTorch DDP's gradient_as_bucket_view), so backward
// writes straight into the buffers MPI reduces: nothing is copied. The trainer tells
// the reducer which parameters are final (Sequential.onGradientsReady after each
// layer's backward); when every parameter of a bucket is final, a communication thread
// runs a blocking MPI_Allreduce on it in place while backward goes on (OpenMPI here has
// no asynchronous progress of its own, so a thread drives it). The bucket finished
// last — the first layers', when backward is over — and, with overlap off, every
// bucket are reduced by `finish()` on the calling thread, after the thread's work.
// The losses are normalised by the global batch, so the sum is the global gradient.
// The reducer's communicator must be its own (a split of the world): collectives on
// the trainer's communicator (batch-norm statistics) may run at the same time.
import Dispatch
import Foundation
import PhalanxCore
import PhalanxNN

public final class GradientReducer: @unchecked Sendable {
    private struct Bucket {
        var parameters: [Parameter]
        var storage: TensorStorage
        var count: Int
        var pending: Int
        var launched = false
    }

    public let communicator: Communicator
    /// Whether buckets are reduced during backward (else all at `finish`).
    public let overlap: Bool
    private var buckets: [Bucket] = []
    private var bucketOf: [ObjectIdentifier: Int] = [:]
    private let queue = DispatchQueue(label: "phalanx.gradient-reducer")
    private let group = DispatchGroup()
    private let errorLock = NSLock()
    private var failure: Error?
    /// Seconds the last `finish` spent reducing and waiting.
    public private(set) var lastWait = 0.0

    /// - Parameters:
    ///   - communicator: a communicator for the reducer alone.
    ///   - parameters: the model's parameters in model order; their gradient tensors
    ///     move into the reducer's buckets (values kept).
    ///   - bucketBytes: the size a bucket is filled to (a single larger tensor gets its own).
    public init(communicator: Communicator, parameters: [Parameter], bucketBytes: Int = 4 << 20, overlap: Bool = true) {
        self.communicator = communicator
        self.overlap = overlap
        let limit = max(4, bucketBytes) / MemoryLayout<Float>.stride
        var current: [Parameter] = []
        var size = 0
        func close() {
            guard !current.isEmpty else { return }
            let storage = TensorStorage(capacity: size)
            var offset = 0
            for p in current {
                p.gradient.rebind(to: TensorStorage(window: storage, offset: offset, capacity: p.gradient.count))
                offset += p.gradient.count
                bucketOf[ObjectIdentifier(p)] = buckets.count
            }
            buckets.append(Bucket(parameters: current, storage: storage, count: size, pending: current.count))
            current = []
            size = 0
        }
        for p in parameters.reversed() {
            if size > 0 && size + p.gradient.count > limit { close() }
            current.append(p)
            size += p.gradient.count
        }
        close()
    }

    deinit {
        group.wait()
    }

    /// How many buckets the parameters fill.
    public var bucketCount: Int { buckets.count }

    /// Marks `parameters` final for this step; full buckets start reducing.
    public func ready(_ parameters: [Parameter]) {
        for p in parameters {
            guard let i = bucketOf[ObjectIdentifier(p)] else { continue }
            buckets[i].pending -= 1
            // The last bucket has nothing left to overlap with: `finish` reduces it.
            if buckets[i].pending == 0 && overlap && i != buckets.count - 1 { launch(i) }
        }
    }

    private func launch(_ i: Int) {
        guard !buckets[i].launched else { return }
        buckets[i].launched = true
        let comm = communicator
        let buffer = UncheckedBuffer(UnsafeMutableBufferPointer(start: buckets[i].storage.pointer, count: buckets[i].count))
        queue.async(group: group) { [self] in
            do {
                try comm.allreduceSum(buffer.pointer)
            } catch {
                errorLock.lock()
                if failure == nil { failure = error }
                errorLock.unlock()
            }
        }
    }

    /// Reduces every bucket not yet reduced, waits for all, and resets for the next step.
    /// The gradients then hold the sums over all ranks.
    public func finish() throws {
        let start = DispatchTime.now()
        // The communication thread first: collectives on one communicator must come in
        // the same order on every rank.
        group.wait()
        for i in buckets.indices where !buckets[i].launched {
            buckets[i].launched = true
            try communicator.allreduceSum(UnsafeMutableBufferPointer(start: buckets[i].storage.pointer,
                                                                       count: buckets[i].count))
        }
        lastWait = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        for i in buckets.indices {
            buckets[i].pending = buckets[i].parameters.count
            buckets[i].launched = false
        }
        errorLock.lock()
        defer { errorLock.unlock() }
        if let failure { throw failure }
    }
}

/// A buffer handed to the communication thread; the reducer does not touch it until
/// `finish` has waited for that thread.
private struct UncheckedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableBufferPointer<Float>
    init(_ p: UnsafeMutableBufferPointer<Float>) { pointer = p }
}
