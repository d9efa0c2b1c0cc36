// Parallel-for over Dispatch: splits a range into one contiguous chunk per thread.
//
// Phalanx keeps OpenBLAS single-threaded and parallelises above it (over the batch,
// over channels, over rows of a GEMM), so there is one thread pool and no nesting.
import Dispatch
import Foundation
import CBLAS

/// Thread settings and the parallel-for used by every kernel.
public enum Parallel {
    nonisolated(unsafe) private static var _threads: Int = {
        configureBLAS()
        let env = ProcessInfo.processInfo.environment["PHALANX_THREADS"].flatMap { Int($0) }
        return max(1, env ?? ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// How many threads kernels use (default: the active cores, or `PHALANX_THREADS`).
    public static var threads: Int {
        get { _threads }
        set { _threads = max(1, newValue) }
    }

    private static func configureBLAS() {
        openblas_set_num_threads(1)
    }

    /// Runs `body(chunk, range)` over `0..<count` split into at most `threads` contiguous
    /// chunks, each at least `grain` long; `chunk` is in `0..<threads` and lets a body
    /// use per-thread scratch memory. Runs inline when one chunk suffices.
    public static func forChunks(_ count: Int, grain: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(grain, 1)))
        if chunks <= 1 {
            body(0, 0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks, hi = count * (c + 1) / chunks
                box.value(c, lo..<hi)
            }
        }
    }

    /// Runs `body(range)` over `0..<count` in parallel chunks of at least `grain` items.
    @inlinable
    public static func forEach(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        forChunks(count, grain: grain) { _, r in body(r) }
    }
}

/// Carries a value across a `@Sendable` boundary where the caller guarantees safety
/// (disjoint writes from parallel chunks).
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
