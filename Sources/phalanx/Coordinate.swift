import ArgumentParser
import Foundation
import PhalanxCoordinator
import PhalanxCore
import PhalanxDistributed
import PhalanxTraining

/// Options shared by `ensemble` and `sweep`.
struct CoordinatorArguments: ParsableArguments {
    @Option(name: .shortAndLong, help: "The experiment config (YAML) with an ensemble: or sweep: section.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value, e.g. ensemble.members=3 (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Flag(help: "Skip what finished; resume unfinished runs from their newest good checkpoint.")
    var resume = false

    @Flag(help: "Print plain progress lines even on a terminal.")
    var plain = false

    func validate() throws {
        for o in overrides where !o.contains("=") { throw ValidationError("--set takes key=value, got '\(o)'") }
    }

    var options: CoordinatorOptions {
        var o = CoordinatorOptions()
        o.resume = resume
        if plain { o.interactive = false }
        return o
    }

    /// Loads the config and runs `body` on every rank, stopping all ranks on an error.
    func run(_ body: (LoadedConfig, Communicator) throws -> Void) throws {
        try reportingErrors {
            let world = try World.communicator()
            if world.rank == 0 { warnAboutSlowBLAS() }
            var unfinished: Error?
            try stoppingAllRanksOnError(world) {
                let loaded = try ConfigLoader.load(path: config, overrides: overrides)
                do {
                    try body(loaded, world)
                } catch let e as UnfinishedJobs {
                    unfinished = e  // every rank knows; no rank is left waiting
                }
            }
            if world.size > 1 { MPICommunicator.finalize() }
            if let e = unfinished {
                if world.rank == 0 { throw e }
                throw ExitCode.failure
            }
        }
    }
}

/// `phalanx ensemble`: members in parallel rank groups, then the ensemble's evaluation.
struct Ensemble: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an ensemble (seeds, architectures, bagging or AdaBoost) and evaluate it.",
        discussion: """
        The config's ensemble: section says how many members, how they differ and how they vote.
        Under mpirun the ranks split into groups; each group trains one member at a time
        (data-parallel inside the group). Each member is a normal run in
        runs/<name>/member-<k>/; ensemble.json (members, soft and hard vote, out-of-bag
        estimate, disagreement) goes beside them.
        Examples:
          phalanx ensemble --config configs/fashion-lenet-bagged.yaml
          mpirun -np 2 phalanx ensemble --config configs/fashion-lenet-bagged.yaml
          phalanx ensemble --config configs/fashion-lenet-bagged.yaml --resume
        """)

    @OptionGroup var arguments: CoordinatorArguments

    func run() throws {
        try arguments.run { loaded, world in
            try EnsembleRunner(loaded, options: arguments.options, communicator: world).run()
        }
    }
}

/// `phalanx sweep`: trials over config values.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search config values (grid, random, log-uniform); table of results and the best config.",
        discussion: """
        The config's sweep: section names dotted keys and their values or ranges. Each trial is a
        normal run in runs/<name>/trial-<k>/; sweep.json and best.yaml go beside them.
        Examples:
          phalanx sweep --config configs/fashion-lenet-sweep.yaml
          mpirun -np 2 phalanx sweep --config configs/fashion-lenet-sweep.yaml   # trials in parallel
        """)

    @OptionGroup var arguments: CoordinatorArguments

    func run() throws {
        try arguments.run { loaded, world in
            try SweepRunner(loaded, options: arguments.options, communicator: world).run()
        }
    }
}

/// `phalanx aggregate`: combine checkpoints by voting or by averaging weights.
struct Aggregate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Combine checkpoints: soft or hard voting, weight averaging, last-K average, greedy soup.",
        discussion: """
        Modes:
          soft-vote        mean of the members' class probabilities (optional --weights)
          hard-vote        majority of the members' classes; ties go to the larger mean probability
          average-weights  a uniform (or --weights) soup of checkpoints of one architecture
          last-k           the average of a run's newest --last checkpoints (give the run directory)
          greedy-soup      add checkpoints best first while validation accuracy does not drop
        Averaged weights get their batch-norm statistics re-estimated on the training split and
        are written as a checkpoint under --output.
        Examples:
          phalanx aggregate --mode soft-vote runs/fashion-lenet-bagged/member-*/checkpoints/latest
          phalanx aggregate --mode last-k --last 3 runs/fashion-lenet --output runs/fashion-lenet-swa
        """)

    @Option(help: "soft-vote, hard-vote, average-weights, last-k or greedy-soup.")
    var mode: String

    @Argument(help: "Checkpoint directories (for last-k: one run directory).")
    var checkpoints: [String]

    @Option(help: "Comma-separated weights, one per checkpoint (voting and average-weights).")
    var weights: String?

    @Option(help: "last-k: how many of the newest checkpoints.")
    var last = 3

    @Option(help: "Where averaged weights are written (a run-like directory holding checkpoints/).")
    var output = "runs/aggregate"

    @Flag(help: "Print the result as JSON.")
    var json = false

    static let modes = ["soft-vote", "hard-vote", "average-weights", "last-k", "greedy-soup"]

    func validate() throws {
        guard Self.modes.contains(mode) else {
            throw ValidationError("--mode must be one of \(Self.modes.joined(separator: ", ")), got '\(mode)'")
        }
        guard !checkpoints.isEmpty else { throw ValidationError("name at least one checkpoint") }
        if mode == "last-k" && checkpoints.count != 1 { throw ValidationError("last-k takes one run directory") }
        if let w = weights {
            let parsed = w.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parsed.allSatisfy({ $0 != nil && $0! >= 0 && $0!.isFinite }), parsed.count == checkpoints.count,
                  parsed.reduce(0, { $0 + ($1 ?? 0) }) > 0 else {
                throw ValidationError("--weights takes \(checkpoints.count) non-negative numbers separated by commas, not all zero")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            let urls = checkpoints.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath() }
            let w = weights.map { $0.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces))! } }
            let say: (String) -> Void = json ? { _ in } : { print($0) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            switch mode {
            case "soft-vote", "hard-vote":
                // Bagged members keep bootstrap.json in their run directory: then the OOB estimate too.
                let samples = urls.map { url -> BootstrapSample? in
                    let file = url.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("bootstrap.json")
                    return (try? Data(contentsOf: file)).flatMap { try? JSONDecoder().decode(BootstrapSample.self, from: $0) }
                }
                let report = try EnsembleEvaluation.evaluate(
                    names: urls.map(memberName), checkpoints: urls, weights: w,
                    bootstrap: samples.allSatisfy { $0 != nil } ? samples.map { $0! } : nil,
                    vote: mode == "hard-vote" ? "hard" : "soft", say: say)
                if json { print(String(decoding: try encoder.encode(report), as: UTF8.self)) } else { print(report.table) }
            default:
                let out = URL(fileURLWithPath: output)
                let result: SoupResult
                switch mode {
                case "last-k":
                    result = try Aggregation.soup(try Aggregation.lastCheckpoints(of: urls[0], k: last), output: out, say: say)
                case "greedy-soup":
                    result = try Aggregation.greedySoup(urls, output: out, say: say)
                default:
                    result = try Aggregation.soup(urls, weights: w, output: out, say: say)
                }
                if json {
                    print(String(decoding: try encoder.encode(result), as: UTF8.self))
                } else {
                    for (path, a) in zip(result.ingredients, result.ingredientAccuracies) {
                        print(String(format: "  %.4f  %@", a, path))
                    }
                    print(String(format: "averaged weights: test accuracy %.4f%@ (%d checkpoints)", result.testAccuracy,
                                 result.validationAccuracy.map { String(format: ", validation %.4f", $0) } ?? "",
                                 result.ingredients.count))
                    print("written: \(result.checkpoint)  (phalanx evaluate --checkpoint \(result.checkpoint))")
                }
            }
        }
    }

    /// A short name for a checkpoint: its run directory's name (member-3), else the path.
    private func memberName(_ url: URL) -> String {
        let run = url.deletingLastPathComponent().deletingLastPathComponent()
        return url.deletingLastPathComponent().lastPathComponent == "checkpoints" ? run.lastPathComponent : url.path
    }
}
