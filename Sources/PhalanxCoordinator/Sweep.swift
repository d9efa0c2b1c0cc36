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
    /// The value of the sweep's metric.
    public var metric: Double
    /// Every metric of the trial's summary, by name.
    public var metrics: [String: Double]
    public var seconds: Double
    public var checkpoint: String

    public var validationAccuracy: Double? { metrics["validation_accuracy"] }
    public var testAccuracy: Double? { metrics["test_accuracy"] }
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
        let all = try trials()
        guard let sweep = config.sweep else { return [] }
        let kind = try TaskRegistry.kind(of: loaded)
        let metricName = sweep.metric ?? kind.defaultMonitor
        guard let direction = kind.metricNames.first(where: { $0.name == metricName })?.direction,
              !metricName.hasPrefix("train_") else {
            throw loaded.error("sweep.metric", "unknown metric '\(metricName)' for the \(kind.name) task; known: "
                + kind.metricNames.map(\.name).filter { !$0.hasPrefix("train_") }.joined(separator: ", "))
        }
        if metricName.hasPrefix("validation_") && kind.dataKeys.contains("validation") && config.data.validation == 0 {
            throw loaded.error("sweep.metric", "\(metricName) needs a validation split: set data.validation (or choose a test_ metric, which selects on the test set)")
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
            let metric = s.metrics[metricName] ?? .nan
            results.append(SweepResult(trial: t.name, values: t.values, metric: metric, metrics: s.metrics,
                                       seconds: s.seconds, checkpoint: s.checkpoint))
        }
        // Best first by the metric's direction (a trial without it last); equal metrics keep trial order.
        results = results.enumerated().sorted { a, b in
            let x = a.element.metric, y = b.element.metric
            if x.isFinite != y.isFinite { return x.isFinite }
            if x != y && x.isFinite { return direction == .max ? x > y : x < y }
            return a.offset < b.offset
        }.map(\.element)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.writeAtomically(Array(try encoder.encode(results)), to: directory.appendingPathComponent("sweep.json"))
        say(table(results, keys: sweep.parameters.keys.sorted(), metric: metricName))
        if let best = results.first, let trial = all.first(where: { $0.name == best.trial }) {
            // The trial's config as the user wrote it, with its values set: only the keys
            // its task reads, so it loads as it is.
            let c = try trialConfig(trial).derived(overrides: ["name=\(config.name)-best",
                                                               "checkpoint.directory=\(config.checkpoint.directory)"])
            let url = directory.appendingPathComponent("best.yaml")
            let yaml = "# best of sweep \(config.name) by \(metricName): \(best.trial) "
                + String(format: "(%.4f)", best.metric) + "\n# train it: phalanx train --config \(url.path)\n"
                + (try Yams.serialize(node: c.tree))
            try DurableFile.writeAtomically(Array(yaml.utf8), to: url)
            say("best: \(best.trial) \(trial.overrides.joined(separator: " ")) — \(metricName) "
                + String(format: "%.4f", best.metric) + "; config written to \(url.path)")
        }
        say("wrote \(directory.appendingPathComponent("sweep.json").path)")
        if !failed.isEmpty { throw UnfinishedJobs(failures: failed, retry: "rerun with --resume to run only the unfinished trials") }
        return results
    }

    /// The results table, best first: the swept values, the metric, the other
    /// validation and test figures the trials report, the time.
    public func table(_ results: [SweepResult], keys: [String], metric: String) -> String {
        let widths = keys.map { max($0.count, 10) }
        let others = Array(Set(results.flatMap(\.metrics.keys)).filter {
            $0 != metric && ($0.hasPrefix("validation_") || $0.hasPrefix("test_")) && !$0.hasSuffix("_loss")
        }).sorted()
        let columns = [metric] + others
        let columnWidths = columns.map { max($0.count, 8) }
        func pad(_ s: String, _ w: Int) -> String { s.padding(toLength: w, withPad: " ", startingAt: 0) }
        var lines = ["trial       " + zip(keys + columns, widths + columnWidths).map { pad($0, $1) }.joined(separator: "  ")
            + "  time"]
        for r in results {
            let vals = zip(keys, widths).map { pad(r.values[$0] ?? "", $1) }
            let figures = zip(columns, columnWidths).map { c, w in
                pad(r.metrics[c].map { String(format: "%.4f", $0) } ?? "-", w)
            }
            lines.append(pad(r.trial, 12) + (vals + figures).joined(separator: "  ") + "  " + ProgressReporter.clock(r.seconds))
        }
        lines.append("sorted by \(metric)")
        return lines.joined(separator: "\n")
    }
}
