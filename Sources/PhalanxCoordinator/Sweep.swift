// `phalanx sweep`: trials over config values (grid, random, log-uniform), spread over
// rank groups, each a normal run; a table sorted by the chosen metric and the best
// config written out.
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxTraining
import Yams

/// One finished trial's figures.
public struct SweepResult: Codable, Sendable {
    public var trial: String
    public var values: [String: String]
    public var metric: Double
    public var validationAccuracy: Double?
    public var testAccuracy: Double
    public var seconds: Double
    public var checkpoint: String

    enum CodingKeys: String, CodingKey {
        case trial, values, metric, seconds, checkpoint
        case validationAccuracy = "validation_accuracy", testAccuracy = "test_accuracy"
    }
}

/// Runs the trials a `sweep:` section describes. Trial k is the base experiment named
/// `trial-00k` with the trial's values set, in `<checkpoint.directory>/<name>/trial-00k/`.
public final class SweepRunner: Coordinator {
    /// The trials, in order.
    public func trials() throws -> [SweepTrial] {
        guard let sweep = config.sweep else {
            throw loaded.error("sweep", "this config has no 'sweep:' section (method, parameters, …); see configs/fashion-lenet-sweep.yaml")
        }
        return try SweepPlan.trials(sweep, seed: config.seed, fail: loaded.error)
    }

    /// The experiment of `trial`.
    public func trialConfig(_ trial: SweepTrial) throws -> LoadedConfig {
        try loaded.derived(overrides: trial.overrides + ["name=\(trial.name)", "checkpoint.directory=\(directory.path)"],
                           removing: ["ensemble", "sweep"])
    }

    /// Runs the unfinished trials; on rank 0 returns the results sorted best first
    /// (empty on other ranks). Throws `UnfinishedJobs` when trials failed, after writing
    /// the table of those that finished.
    @discardableResult
    public func run() throws -> [SweepResult] {
        let sweep = config.sweep
        let all = try trials()
        guard let sweep, ["validation_accuracy", "test_accuracy"].contains(sweep.metric) else {
            throw loaded.error("sweep.metric", "unknown metric '\(config.sweep?.metric ?? "")'; known: validation_accuracy, test_accuracy")
        }
        if sweep.metric == "validation_accuracy" && config.data.validation == 0 {
            throw loaded.error("sweep.metric", "validation_accuracy needs a validation split: set data.validation (or choose test_accuracy, which selects on the test set)")
        }
        if sweep.groups < 0 { throw loaded.error("sweep.groups", "must not be negative") }
        // Every trial's config must decode before anything trains.
        for t in all { _ = try trialConfig(t) }
        let groups = try RankGroups(world: world, requested: sweep.groups, jobs: all.count)
        if config.train.threads > 0 { Parallel.threads = config.train.threads }
        say("\(config.name): \(all.count) trials (\(sweep.method) over \(sweep.parameters.keys.sorted().joined(separator: ", ")))"
            + (world.size > 1 ? "; \(world.size) ranks in \(groups.count) group\(groups.count == 1 ? "" : "s")" : "")
            + "; outputs in \(directory.path)/")
        var failures: [String: String] = [:]
        for j in groups.jobs(of: all.count) {
            let trial = all[j]
            try groups.run(trial.name, failures: &failures) {
                try train(trial.name, try trialConfig(trial), note: trial.overrides.joined(separator: " "), groups: groups)
            }
        }
        let failed = try groups.gather(failures)
        try world.barrier()
        guard world.rank == 0 else {
            if !failed.isEmpty { throw UnfinishedJobs(failures: failed, retry: "rerun with --resume") }
            return []
        }
        var results: [SweepResult] = []
        for t in all {
            guard let s = finishedSummary(t.name) else { continue }
            let metric = sweep.metric == "test_accuracy" ? s.testAccuracy : (s.validationAccuracy ?? 0)
            results.append(SweepResult(trial: t.name, values: t.values, metric: metric, validationAccuracy: s.validationAccuracy,
                                       testAccuracy: s.testAccuracy, seconds: s.seconds, checkpoint: s.checkpoint))
        }
        // Best first; equal metrics keep trial order.
        results = results.enumerated().sorted { a, b in
            a.element.metric != b.element.metric ? a.element.metric > b.element.metric : a.offset < b.offset
        }.map(\.element)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.writeAtomically(Array(try encoder.encode(results)), to: directory.appendingPathComponent("sweep.json"))
        say(table(results, keys: sweep.parameters.keys.sorted(), metric: sweep.metric))
        if let best = results.first, let trial = all.first(where: { $0.name == best.trial }) {
            var c = try trialConfig(trial).config
            c.name = config.name + "-best"
            c.checkpoint.directory = config.checkpoint.directory
            let url = directory.appendingPathComponent("best.yaml")
            let yaml = "# best of sweep \(config.name) by \(sweep.metric): \(best.trial) "
                + String(format: "(%.4f)", best.metric) + "\n# train it: phalanx train --config \(url.path)\n"
                + (try YAMLEncoder().encode(c))
            try DurableFile.writeAtomically(Array(yaml.utf8), to: url)
            say("best: \(best.trial) \(trial.overrides.joined(separator: " ")) — \(sweep.metric) "
                + String(format: "%.4f", best.metric) + "; config written to \(url.path)")
        }
        say("wrote \(directory.appendingPathComponent("sweep.json").path)")
        if !failed.isEmpty { throw UnfinishedJobs(failures: failed, retry: "rerun with --resume to run only the unfinished trials") }
        return results
    }

    /// The results table, best first.
    public func table(_ results: [SweepResult], keys: [String], metric: String) -> String {
        let widths = keys.map { max($0.count, 10) }
        var lines = ["trial       " + zip(keys, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
            .joined(separator: "  ") + "  val acc   test acc  time"]
        for r in results {
            let vals = zip(keys, widths).map { (r.values[$0] ?? "").padding(toLength: $1, withPad: " ", startingAt: 0) }
            lines.append(r.trial.padding(toLength: 12, withPad: " ", startingAt: 0) + vals.joined(separator: "  ")
                + String(format: "  %7@   %.4f    %@", (r.validationAccuracy.map { String(format: "%.4f", $0) } ?? "-") as NSString,
                         r.testAccuracy, ProgressReporter.clock(r.seconds)))
        }
        lines.append("sorted by \(metric)")
        return lines.joined(separator: "\n")
    }
}
