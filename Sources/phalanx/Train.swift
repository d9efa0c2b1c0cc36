import ArgumentParser
import PhalanxCore
import PhalanxDistributed
import PhalanxTraining

/// `phalanx train`: trains the experiment a config describes.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the experiment a YAML config describes.",
        discussion: """
        Writes runs/<name>/metrics.jsonl (one JSON object per line), runs/<name>/summary.json
        and checkpoints under runs/<name>/checkpoints/ (latest and best are links).
        Examples:
          phalanx train --config configs/fashion-lenet.yaml
          phalanx train --config configs/fashion-mlp.yaml --set train.epochs=3 --set train.optimizer.lr=0.05
          phalanx train --config configs/fashion-lenet.yaml --resume
        """)

    @Option(name: .shortAndLong, help: "The experiment config (YAML).")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value, e.g. train.epochs=3 (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Flag(help: "Continue from the newest good checkpoint of this run.")
    var resume = false

    @Option(help: "Stop after this many epochs in total, as an interrupted run would (the schedule still plans for all).")
    var stopAfter: Int?

    @Flag(help: "Print plain progress lines even on a terminal.")
    var plain = false

    func validate() throws {
        if let s = stopAfter, s < 1 { throw ValidationError("--stop-after must be at least 1") }
        for o in overrides where !o.contains("=") {
            throw ValidationError("--set takes key=value, got '\(o)'")
        }
    }

    func run() throws {
        try reportingErrors {
            // Under mpirun every rank runs this; without it, a world of one.
            let world = try World.communicator()
            if world.rank == 0 { warnAboutSlowBLAS() }
            try stoppingAllRanksOnError(world) {
                let loaded = try ConfigLoader.load(path: config, overrides: overrides)
                var options = TrainOptions()
                options.resume = resume
                options.stopAfterEpochs = stopAfter
                if plain { options.interactive = false }
                _ = try TaskRegistry.kind(of: loaded).train(loaded, options: options, communicator: world)
            }
            if world.size > 1 { MPICommunicator.finalize() }
        }
    }
}
