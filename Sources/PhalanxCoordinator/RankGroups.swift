// Splitting the world into groups of ranks that each run one job (an ensemble member, a
// sweep trial) at a time, data-parallel inside the group; and collecting which jobs
// failed, so the others' results are kept.
import Foundation
import PhalanxDistributed
import PhalanxTraining

/// The world split into `count` groups of consecutive ranks (`MPI_Comm_split`).
public struct RankGroups {
    /// How many groups.
    public let count: Int
    /// This rank's group, `0..<count`.
    public let index: Int
    /// The ranks of this group; rank 0 of it writes the job's outputs.
    public let communicator: Communicator
    public let world: Communicator

    /// `requested` groups (0: one per rank), never more than the ranks or the jobs.
    public init(world: Communicator, requested: Int, jobs: Int) throws {
        let n = max(1, min(requested > 0 ? requested : world.size, world.size, max(jobs, 1)))
        count = n
        index = world.rank * n / world.size
        communicator = n == 1 ? world : try world.split(color: index, key: world.rank)
        self.world = world
    }

    /// The jobs (0-based) this group runs: job j goes to group j mod count.
    public func jobs(of total: Int) -> [Int] { Array(stride(from: index, to: total, by: count)) }

    /// Whether this rank speaks for its group (rank 0 of the group).
    public var isGroupRoot: Bool { communicator.rank == 0 }

    /// Runs `body` for one job. A failure inside a group of one rank is recorded and the
    /// group goes on with its next job; in a larger group the other ranks may be waiting
    /// in a collective, so the error is rethrown (and stops every rank with its message).
    public func run(_ name: String, failures: inout [String: String], _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let stop as TrainingError where stop.exitCode != nil {
            throw stop  // a signal stops the whole coordinator, not just this job
        } catch {
            if communicator.size > 1 { throw JobFailure(name: name, message: "\(error)") }
            failures[name] = "\(error)"
        }
    }

    /// Every group's recorded failures, on every rank (job name → message).
    public func gather(_ failures: [String: String]) throws -> [String: String] {
        let mine = isGroupRoot ? failures.map { "\($0.key)\u{1}\($0.value)" }.joined(separator: "\u{2}") : ""
        var all: [String: String] = [:]
        for bytes in try world.allgather(Array(mine.utf8)) where !bytes.isEmpty {
            for item in String(decoding: bytes, as: UTF8.self).split(separator: "\u{2}") {
                let parts = item.split(separator: "\u{1}", maxSplits: 1).map(String.init)
                all[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
        }
        return all
    }
}

/// A job that failed in a group of several ranks.
public struct JobFailure: Error, CustomStringConvertible {
    public var name: String
    public var message: String
    public var description: String { "\(name) failed: \(message)" }
}

/// Jobs that failed while the others finished.
public struct UnfinishedJobs: Error, CustomStringConvertible {
    /// Job name → its error.
    public var failures: [String: String]
    /// What the user runs to finish them.
    public var retry: String
    public var description: String {
        let list = failures.keys.sorted().map { "\($0): \(failures[$0]!)" }.joined(separator: "; ")
        return "\(failures.count) failed — \(list). The others' checkpoints are kept; \(retry)"
    }
}
