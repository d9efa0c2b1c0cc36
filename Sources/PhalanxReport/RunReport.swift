// `phalanx report RUN`: one self-contained HTML page about a run directory — the curves
// of metrics.jsonl, the final figures of summary.json, and for a classifier the confusion
// matrix, per-class accuracy and misclassified examples of its checkpoint on the test
// split; for an ensemble (ensemble.json) its members against the vote, for a sweep
// (sweep.json) the metric against each swept parameter; any sample grids the run wrote.
import Foundation
import PhalanxCoordinator
import PhalanxTraining

/// Writes `report.html` for a run, an ensemble or a sweep directory.
public enum RunReport {
    /// What the report evaluates and shows.
    public struct Options: Sendable {
        /// Misclassified test examples in the grid (the most confident mistakes first).
        public var misclassified = 48
        /// Evaluation batch size for the checkpoint's test pass.
        public var batchSize = 500
        /// Evaluate a classifier's checkpoint on the test split (confusion matrix, mistakes).
        public var evaluate = true
        /// Sample grids (samples/*.png) shown at most; evenly spaced, the last always.
        public var maxSamples = 12

        public init() {}
    }

    public static let fileName = "report.html"

    /// Writes the report of `run` to `output` (default `run/report.html`) and returns where.
    @discardableResult
    public static func write(run: URL, to output: URL? = nil, options: Options = Options(),
                             say: (String) -> Void = { _ in }) throws -> URL {
        let page = try html(run: run, options: options, say: say)
        let url = output ?? run.appendingPathComponent(fileName)
        try DurableFile.writeAtomically(Array(page.utf8), to: url)
        return url
    }

    /// The report of `run` as an HTML page.
    public static func html(run: URL, options: Options = Options(), say: (String) -> Void = { _ in }) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: run.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ReportError(file: run.path, "no such run directory")
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: run.appendingPathComponent(RunFiles.ensemble).path) {
            return try ensemblePage(run, say: say)
        }
        if fm.fileExists(atPath: run.appendingPathComponent(RunFiles.sweep).path) {
            return try sweepPage(run, say: say)
        }
        return try runPage(run, options: options, say: say)
    }

    /// One training run: metrics.jsonl is required, the rest is shown when present.
    static func runPage(_ run: URL, options: Options, say: (String) -> Void) throws -> String {
        let metricsURL = run.appendingPathComponent(RunFiles.metrics)
        guard FileManager.default.fileExists(atPath: metricsURL.path) else {
            throw ReportError(file: metricsURL.path, "no such file: a run directory holds metrics.jsonl "
                + "(an ensemble's ensemble.json, a sweep's sweep.json); is \(run.path) a run?")
        }
        let records = try RunFiles.readMetrics(metricsURL)
        let summary = try RunFiles.summary(in: run)
        var page = HTMLPage(title: summary?.name ?? run.lastPathComponent)
        let checkpoint = checkpoint(of: run, summary: summary)
        let task = try summary.map(\.task).flatMap { $0.isEmpty ? nil : $0 }
            ?? checkpoint.map { try TaskRegistry.kind(ofCheckpoint: $0).name }
        summarySection(&page, records: records, summary: summary, checkpoint: checkpoint, run: run)
        try curvesSection(&page, records: records)
        if task == "classification", options.evaluate {
            if let checkpoint {
                say("evaluating \(checkpoint.path) on the test split")
                try classificationSections(&page, checkpoint: checkpoint, summary: summary, options: options)
            } else {
                page.section("test", "Test split")
                page.paragraph("No checkpoint found under \(run.appendingPathComponent("checkpoints").path): "
                    + "no confusion matrix or misclassified examples.", className: "note")
            }
        }
        try samplesSection(&page, run: run, task: task, maxCount: options.maxSamples)
        return page.html(subtitle: subtitle(records: records, summary: summary, task: task, run: run))
    }

    /// The checkpoint whose figures the summary reports (the path it names, or the same
    /// step under this run's checkpoints/), else `checkpoints/latest`; nil when none has a
    /// trainer.json.
    static func checkpoint(of run: URL, summary: RunSummary?) -> URL? {
        var candidates: [URL] = []
        if let s = summary?.checkpoint, !s.isEmpty {
            candidates.append(URL(fileURLWithPath: s))
            candidates.append(run.appendingPathComponent("checkpoints").appendingPathComponent(URL(fileURLWithPath: s).lastPathComponent))
        }
        candidates.append(run.appendingPathComponent("checkpoints/latest"))
        return candidates.first {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent(CheckpointLayout.trainer).path)
        }?.resolvingSymlinksInPath()
    }

    static func subtitle(records: [MetricRecord], summary: RunSummary?, task: String?, run: URL) -> String {
        var parts: [String] = []
        if let task { parts.append("task \(task)") }
        let epochs = summary?.epochs ?? records.map(\.epoch).max() ?? 0
        let steps = summary?.steps ?? records.map(\.step).max() ?? 0
        parts.append("\(epochs) epoch\(epochs == 1 ? "" : "s"), \(steps) steps")
        let seconds = summary?.seconds ?? records.map(\.time).max() ?? 0
        if seconds > 0 { parts.append("\(clock(seconds)) of training") }
        if let s = summary, s.samplesPerSec > 0 { parts.append(String(format: "%.0f samples/s", s.samplesPerSec)) }
        if summary == nil { parts.append("no summary.json (unfinished?)") }
        parts.append(run.path)
        return parts.joined(separator: " · ")
    }

    /// The final figures: summary.json's metrics, else the last record of each split.
    static func summarySection(_ page: inout HTMLPage, records: [MetricRecord], summary: RunSummary?,
                               checkpoint: URL?, run: URL) {
        page.section("summary", "Summary")
        var figures: [(String, Double)] = []
        if let summary {
            figures = summary.metrics.sorted { order($0.key) < order($1.key) }.map { ($0.key, $0.value) }
        } else {
            for split in ["train", "validation", "test"] {
                guard let last = records.last(where: { $0.split == split }) else { continue }
                for (k, v) in last.metrics.sorted(by: { $0.key < $1.key }) { figures.append(("\(split)_\(k)", v)) }
            }
        }
        page.table(header: ["metric", "value"], rows: figures.map { [$0.0, format($0.1)] }, numeric: [1])
        var notes: [String] = []
        if let m = summary?.monitor { notes.append("monitored: \(m)") }
        if summary?.stoppedEarly == true { notes.append("stopped early") }
        if let checkpoint { notes.append("checkpoint: \(checkpoint.path)") }
        if !notes.isEmpty { page.paragraph(notes.joined(separator: "; "), className: "note") }
    }

    /// Sort key: validation, test, train, then the rest; alphabetical inside.
    static func order(_ name: String) -> String {
        for (k, prefix) in ["validation_", "test_", "train_"].enumerated() where name.hasPrefix(prefix) { return "\(k)\(name)" }
        return "3\(name)"
    }

    /// A figure for a table: 4 significant digits, whole numbers as they are.
    static func format(_ v: Double) -> String {
        if !v.isFinite { return "\(v)" }
        if v == v.rounded(), abs(v) < 1e9 { return String(Int(v)) }
        return abs(v) >= 1000 ? String(format: "%.1f", v) : String(format: "%.4g", v)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
