// What ensembles and sweeps share: the user's config, the world, the output directory,
// and training one job (a member, a trial) as a normal run in a rank group.
import Foundation
import PhalanxDistributed
import PhalanxTraining

/// Options of one `ensemble` or `sweep` invocation that are not part of the config.
public struct CoordinatorOptions: Sendable {
    /// Skip finished members / trials and resume unfinished ones from their checkpoints.
    public var resume = false
    /// Print nothing (tests).
    public var quiet = false
    /// Force plain progress lines (true) or the bar (false); nil: bar on a terminal.
    public var interactive: Bool?
    public init() {}
}

/// The base of `EnsembleRunner` and `SweepRunner`: jobs are runs named `<job>` in
/// `<checkpoint.directory>/<name>/`.
public class Coordinator {
    public let loaded: LoadedConfig
    public let options: CoordinatorOptions
    public let world: Communicator
    var config: ExperimentConfig { loaded.config }

    public init(_ loaded: LoadedConfig, options: CoordinatorOptions = CoordinatorOptions(),
                communicator: Communicator = LocalCommunicator()) {
        self.loaded = loaded
        self.options = options
        world = communicator
    }

    /// `<checkpoint.directory>/<name>`: the jobs' runs and the coordinator's results.
    public var directory: URL {
        URL(fileURLWithPath: config.checkpoint.directory).appendingPathComponent(config.name)
    }

    /// Prints on rank 0 unless quiet.
    func say(_ s: String) {
        if !options.quiet && world.rank == 0 { print(s) }
    }

    /// The summary of job `name` if it finished (its summary.json names a checkpoint that exists).
    public func finishedSummary(_ name: String) -> RunSummary? {
        let url = directory.appendingPathComponent(name).appendingPathComponent("summary.json")
        guard let summary = try? RunSummary.read(url), FileManager.default.fileExists(atPath: summary.checkpoint) else {
            return nil
        }
        return summary
    }

    /// Trains job `name` from `job` in this rank's group, on `indices` of the training
    /// split if given; with --resume a finished job is skipped and an unfinished one
    /// continues from its newest good checkpoint.
    func train(_ name: String, _ job: LoadedConfig, indices: [Int]? = nil, note: String, groups: RankGroups) throws {
        if options.resume, finishedSummary(name) != nil {
            if groups.isGroupRoot && !options.quiet { print("\(name): finished earlier, skipped") }
            return
        }
        var o = TrainOptions()
        o.resume = options.resume
        o.trainIndices = indices
        o.quiet = options.quiet || !groups.isGroupRoot
        o.interactive = groups.count > 1 ? false : options.interactive
        if groups.count > 1 { o.linePrefix = "[\(name)] " }
        if groups.isGroupRoot && !options.quiet {
            print("\(name): \(note)" + (groups.count > 1 ? " (group \(groups.index + 1) of \(groups.count))" : ""))
        }
        _ = try TaskRegistry.kind(of: job).train(job, options: o, communicator: groups.communicator)
    }
}
