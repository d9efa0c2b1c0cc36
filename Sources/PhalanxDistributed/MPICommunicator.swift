// Communicator over OpenMPI, through the C shim in CMPIShim.
import CMPIShim
import Foundation

/// An MPI communicator. `world()` initialises MPI once per process (with
/// MPI_THREAD_MULTIPLE, which the gradient reducer's communication thread needs).
public final class MPICommunicator: Communicator, @unchecked Sendable {
    private let handle: phx_comm
    public let rank: Int
    public let size: Int
    private let owned: Bool

    private init(handle: phx_comm, owned: Bool) {
        self.handle = handle
        self.owned = owned
        rank = Int(phx_mpi_rank(handle))
        size = Int(phx_mpi_size(handle))
    }

    deinit {
        if owned { phx_mpi_free(handle) }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: MPICommunicator?

    /// MPI_COMM_WORLD, initialising MPI on first use.
    public static func world() throws -> MPICommunicator {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        var provided: Int32 = 0
        let rc = phx_mpi_init(&provided)
        guard rc == 0 else { throw CommunicatorError(rank: -1, operation: "MPI_Init_thread", errorText(rc)) }
        guard provided >= phx_mpi_thread_multiple() else {
            throw CommunicatorError(rank: -1, operation: "MPI_Init_thread",
                                    "the MPI library gives thread level \(provided), Phalanx needs MPI_THREAD_MULTIPLE")
        }
        let w = MPICommunicator(handle: phx_mpi_world()!, owned: false)
        shared = w
        return w
    }

    /// Finalises MPI if it was initialised (call once, at the end of the process).
    public static func finalize() {
        if phx_mpi_initialized() != 0 { _ = phx_mpi_finalize() }
    }

    private static func errorText(_ rc: Int32) -> String { String(cString: phx_mpi_error_string(rc)) }

    private func check(_ rc: Int32, _ operation: String) throws {
        guard rc == 0 else { throw CommunicatorError(rank: rank, operation: operation, MPICommunicator.errorText(rc)) }
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(phx_mpi_allreduce_sum_float(handle, p, buffer.count), "MPI_Allreduce")
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(phx_mpi_allreduce_sum_double(handle, p, buffer.count), "MPI_Allreduce")
    }

    public func allreduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(phx_mpi_allreduce_max_double(handle, p, buffer.count), "MPI_Allreduce")
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard root >= 0 && root < size else {
            throw CommunicatorError(rank: rank, operation: "MPI_Bcast", "root \(root) is outside 0..<\(size)")
        }
        guard let p = buffer.baseAddress, buffer.count > 0 else { return }
        try check(phx_mpi_bcast(handle, p, buffer.count, Int32(root)), "MPI_Bcast")
    }

    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        // Lengths first, so members may send different lengths; then equal-sized blocks.
        var lengths = [UInt64](repeating: 0, count: size)
        var mine = UInt64(bytes.count)
        try withUnsafeBytes(of: &mine) { s in
            try lengths.withUnsafeMutableBytes { r in
                try check(phx_mpi_allgather(handle, s.baseAddress!, r.baseAddress!, 8), "MPI_Allgather")
            }
        }
        let block = Int(lengths.max() ?? 0)
        guard block > 0 else { return Array(repeating: [], count: size) }
        var send = bytes + [UInt8](repeating: 0, count: block - bytes.count)
        var receive = [UInt8](repeating: 0, count: block * size)
        try send.withUnsafeMutableBytes { s in
            try receive.withUnsafeMutableBytes { r in
                try check(phx_mpi_allgather(handle, s.baseAddress!, r.baseAddress!, block), "MPI_Allgather")
            }
        }
        return (0..<size).map { Array(receive[($0 * block)..<($0 * block + Int(lengths[$0]))]) }
    }

    public func barrier() throws {
        try check(phx_mpi_barrier(handle), "MPI_Barrier")
    }

    public func split(color: Int, key: Int) throws -> Communicator {
        guard let h = phx_mpi_split(handle, Int32(color), Int32(key)) else {
            throw CommunicatorError(rank: rank, operation: "MPI_Comm_split", "color \(color), key \(key)")
        }
        return MPICommunicator(handle: h, owned: true)
    }

    public func abort(code: Int32) -> Never {
        phx_mpi_abort(handle, code)
        exit(code)
    }
}
