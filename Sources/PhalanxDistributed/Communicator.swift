// The processes a data-parallel run spans, behind one protocol: MPI under mpirun, a
// world of one otherwise. The trainer and the gradient reducer only see `Communicator`.
import Foundation

/// A failed collective or an impossible request; names the operation and the rank.
public struct CommunicatorError: Error, CustomStringConvertible, Sendable {
    public var rank: Int
    public var operation: String
    public var message: String

    public init(rank: Int, operation: String, _ message: String) {
        self.rank = rank
        self.operation = operation
        self.message = message
    }

    public var description: String { "rank \(rank): \(operation) failed: \(message)" }
}

/// A group of processes that take part in collectives together.
///
/// Collectives must be called by every member in the same order. `allreduceSum` and
/// friends work in place. A communicator is used from one thread at a time; a second
/// thread that needs collectives (the gradient reducer) takes its own `split`.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index, 0 ..< size.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }

    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    func allreduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Copies `root`'s bytes into every other member's buffer (all the same size).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Every member's `bytes` (all the same length), ordered by rank.
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]]
    func barrier() throws
    /// Members with the same color form a new communicator, ranked by `key` then old rank.
    func split(color: Int, key: Int) throws -> Communicator
    /// Ends every process of the job with `code`. Does not return.
    func abort(code: Int32) -> Never
}

extension Communicator {
    /// True for rank 0, the process that prints, writes metrics and checkpoints.
    public var isRoot: Bool { rank == 0 }

    /// Sums an array of doubles over all members.
    public func allreduceSum(_ values: [Double]) throws -> [Double] {
        var v = values
        do {
            try v.withUnsafeMutableBufferPointer { b in
                try allreduceSum(b)
            }
        }
        return v
    }

    /// Broadcasts root's string to every member.
    public func broadcast(_ text: String, root: Int = 0) throws -> String {
        var length = [UInt64(text.utf8.count)]
        try length.withUnsafeMutableBytes { b in try broadcast(b, root: root) }
        var bytes = rank == root ? Array(text.utf8) : [UInt8](repeating: 0, count: Int(length[0]))
        try bytes.withUnsafeMutableBytes { b in try broadcast(b, root: root) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Broadcasts root's floats into every member's buffer.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws {
        try broadcast(UnsafeMutableRawBufferPointer(buffer), root: root)
    }
}

/// The world of one: what runs without mpirun. Every collective is the identity.
public final class LocalCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func allreduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard root == 0 else { throw CommunicatorError(rank: 0, operation: "broadcast", "root \(root) is not in a world of one") }
    }
    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func barrier() throws {}
    public func split(color: Int, key: Int) throws -> Communicator { LocalCommunicator() }
    public func abort(code: Int32) -> Never { exit(code) }
}

/// How a process finds its world.
public enum World {
    /// True when this process was started by mpirun / srun with OpenMPI (its launcher
    /// sets OMPI_COMM_WORLD_SIZE or PMIX_RANK).
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil
    }

    /// MPI's world when launched by mpirun (or when `forceMPI`), else the world of one.
    public static func communicator(forceMPI: Bool = false) throws -> Communicator {
        guard launchedByMPI || forceMPI else { return LocalCommunicator() }
        return try MPICommunicator.world()
    }
}
