import ArgumentParser
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxTraining

@main
struct Phalanx: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phalanx",
        abstract: "Data-parallel deep-learning trainer for CPU clusters.",
        discussion: """
        Start with:  phalanx train --config configs/fashion-lenet.yaml
        Outputs go to runs/<name>/: metrics.jsonl, summary.json and checkpoints/.
        Then:        phalanx evaluate --checkpoint runs/fashion-lenet/checkpoints/latest
                     phalanx inspect runs/fashion-lenet/checkpoints/latest
        """,
        subcommands: [Train.self, Evaluate.self, Inspect.self, Export.self, Generate.self, NGram.self, Analyze.self, Ensemble.self, Aggregate.self, Sweep.self, Report.self, Bench.self]
    )

    /// Runs under the self-checked OpenBLAS kernels (re-starting once if they differ
    /// from those loaded), then the command.
    static func main() {
        BLASChoice.apply()
        main(nil)
    }
}

/// Runs `body`, printing a user-facing error as one line on standard error and
/// exiting with status 1 instead of a stack of wrapped errors.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch let stop as TrainingError where stop.exitCode != nil {
        // A signal stopped the run after a checkpoint: every rank ends here, with 128 + signal.
        if (ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] ?? "0") == "0" {
            FileHandle.standardError.write(Data("phalanx: \(stop)\n".utf8))
        }
        MPICommunicator.finalize()
        throw ExitCode(stop.exitCode!)
    } catch {
        FileHandle.standardError.write(Data("phalanx: error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Says on standard error when OpenBLAS runs older kernels than the CPU supports and no
/// self-check chose them (BLASChoice).
func warnAboutSlowBLAS() {
    guard let better = BLAS.suggestedCoreType, BLASChoice.load() == nil else { return }
    FileHandle.standardError.write(Data(("phalanx: note: OpenBLAS chose its \(BLAS.coreName) kernels for this CPU; "
        + "`phalanx bench kernels --self-check` checks \(better) and the other sets and keeps the fastest correct one\n").utf8))
}

/// Runs `body` on one rank of `world`. In a world of several ranks an error ends the
/// whole job: this rank prints `rank R: error` and calls MPI_Abort, so no other rank is
/// left waiting in a collective. Alone, the error goes on to `reportingErrors`.
func stoppingAllRanksOnError(_ world: Communicator, _ body: () throws -> Void) throws {
    StopSignal.install()
    defer { StopSignal.uninstall() }
    do {
        try body()
    } catch let stop as TrainingError where stop.exitCode != nil {
        throw stop  // every rank agreed on the step and stops; nothing to abort
    } catch {
        guard world.size > 1 else { throw error }
        FileHandle.standardError.write(Data("phalanx: rank \(world.rank) of \(world.size): error: \(error)\n".utf8))
        world.abort(code: 1)
    }
}
