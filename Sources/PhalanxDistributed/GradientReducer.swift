// Sums gradients across ranks in buckets, overlapping the reduction with backward.
//
// Buckets are flat Float buffers of about `bucketBytes`, filled with the parameters in
// reverse model order — the order backward finishes them. The trainer tells the reducer
// which parameters are final (Sequential.onGradientsReady after each layer's backward);
// when every parameter of a bucket is final, the bucket is packed and handed to a
// communication thread that runs a blocking MPI_Allreduce on it while backward goes on
// (OpenMPI here has no asynchronous progress of its own, so a thread drives it).
// `finish()` reduces what is left, waits, and unpacks the sums into the gradients.
// The losses are normalised by the global batch, so the sum is the global gradient.
// The reducer's communicator must be its own (a split of the world): collectives on
// the trainer's communicator (batch-norm statistics) may run at the same time.
import Dispatch
import Foundation
import PhalanxNN

public final class GradientReducer: @unchecked Sendable {
    private struct Bucket {
        var parameters: [Parameter]
        var offsets: [Int]
        var buffer: UnsafeMutableBufferPointer<Float>
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
    /// Seconds the last `finish` waited for reductions still running.
    public private(set) var lastWait = 0.0

    /// - Parameters:
    ///   - communicator: a communicator for the reducer alone.
    ///   - parameters: the model's parameters in model order.
    ///   - bucketBytes: the size a bucket is filled to (a single larger tensor gets its own).
    public init(communicator: Communicator, parameters: [Parameter], bucketBytes: Int = 4 << 20, overlap: Bool = true) {
        self.communicator = communicator
        self.overlap = overlap
        let limit = max(4, bucketBytes) / MemoryLayout<Float>.stride
        var current: [Parameter] = []
        var size = 0
        func close() {
            guard !current.isEmpty else { return }
            var offsets: [Int] = []
            var o = 0
            for p in current { offsets.append(o); o += p.gradient.count }
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(o, 1))
            for p in current { bucketOf[ObjectIdentifier(p)] = buckets.count }
            buckets.append(Bucket(parameters: current, offsets: offsets, buffer: buffer, pending: current.count))
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
        for b in buckets { b.buffer.deallocate() }
    }

    /// How many buckets the parameters fill.
    public var bucketCount: Int { buckets.count }

    /// Marks `parameters` final for this step; full buckets start reducing.
    public func ready(_ parameters: [Parameter]) {
        for p in parameters {
            guard let i = bucketOf[ObjectIdentifier(p)] else { continue }
            buckets[i].pending -= 1
            if buckets[i].pending == 0 && overlap { launch(i) }
        }
    }

    private func launch(_ i: Int) {
        guard !buckets[i].launched else { return }
        buckets[i].launched = true
        let b = buckets[i]
        for (p, o) in zip(b.parameters, b.offsets) {
            (b.buffer.baseAddress! + o).update(from: p.gradient.data, count: p.gradient.count)
        }
        let comm = communicator, buffer = UncheckedBuffer(b.buffer)
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

    /// Reduces every bucket not yet reduced, waits for all, writes the sums into the
    /// gradients and resets for the next step.
    public func finish() throws {
        for i in buckets.indices { launch(i) }
        let start = DispatchTime.now()
        group.wait()
        lastWait = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        if let failure { throw failure }
        for i in buckets.indices {
            let b = buckets[i]
            for (p, o) in zip(b.parameters, b.offsets) {
                p.gradient.data.update(from: b.buffer.baseAddress! + o, count: p.gradient.count)
            }
            buckets[i].pending = b.parameters.count
            buckets[i].launched = false
        }
    }
}

/// A buffer handed to the communication thread; the reducer does not touch it until
/// `finish` has waited for that thread.
private struct UncheckedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableBufferPointer<Float>
    init(_ p: UnsafeMutableBufferPointer<Float>) { pointer = p }
}
