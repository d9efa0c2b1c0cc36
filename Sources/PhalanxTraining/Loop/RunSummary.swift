// What a finished run reports (summary.json), for every task.
import Foundation

/// The figures of a finished run: common fields and the task's metrics by full name
/// (`test_accuracy`, `validation_bits_per_char`). summary.json is one flat object, so a
/// summary written before the one loop (`test_accuracy`, `held_out_bits_per_character`
/// …) reads back with its figures as metrics.
public struct RunSummary: Codable, Sendable {
    public var name: String
    /// The task's registry name (`classification`).
    public var task: String
    public var epochs: Int
    public var steps: Int
    public var seconds: Double
    /// Training throughput in the task's unit (samples per second).
    public var samplesPerSec: Double
    /// The checkpoint whose weights gave the final metrics.
    public var checkpoint: String
    public var stoppedEarly: Bool
    /// The monitored metric, and its best value over the run.
    public var monitor: String?
    /// Final metrics by full name; the monitored one holds its best value.
    public var metrics: [String: Double]

    public init(name: String, task: String, epochs: Int, steps: Int, seconds: Double, samplesPerSec: Double,
                checkpoint: String, stoppedEarly: Bool, monitor: String?, metrics: [String: Double]) {
        self.name = name; self.task = task; self.epochs = epochs; self.steps = steps; self.seconds = seconds
        self.samplesPerSec = samplesPerSec; self.checkpoint = checkpoint; self.stoppedEarly = stoppedEarly
        self.monitor = monitor; self.metrics = metrics
    }

    private typealias Key = FlatKey
    private static let fixed: Set<String> = ["name", "task", "epochs", "steps", "seconds", "samples_per_sec",
                                              "checkpoint", "stopped_early", "monitor"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        name = try c.decode(String.self, forKey: Key("name"))
        task = try c.decodeIfPresent(String.self, forKey: Key("task")) ?? ""
        epochs = try c.decode(Int.self, forKey: Key("epochs"))
        steps = try c.decode(Int.self, forKey: Key("steps"))
        seconds = try c.decodeIfPresent(Double.self, forKey: Key("seconds")) ?? 0
        checkpoint = try c.decodeIfPresent(String.self, forKey: Key("checkpoint")) ?? ""
        stoppedEarly = try c.decodeIfPresent(Bool.self, forKey: Key("stopped_early")) ?? false
        monitor = try c.decodeIfPresent(String.self, forKey: Key("monitor"))
        let metrics = FlatKey.numbers(in: c, except: Self.fixed)
        samplesPerSec = try c.decodeIfPresent(Double.self, forKey: Key("samples_per_sec"))
            ?? metrics["train_samples_per_sec"] ?? metrics["train_characters_per_sec"] ?? 0
        self.metrics = metrics
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(name, forKey: Key("name"))
        try c.encode(task, forKey: Key("task"))
        try c.encode(epochs, forKey: Key("epochs"))
        try c.encode(steps, forKey: Key("steps"))
        try c.encode(seconds, forKey: Key("seconds"))
        try c.encode(samplesPerSec, forKey: Key("samples_per_sec"))
        try c.encode(checkpoint, forKey: Key("checkpoint"))
        try c.encode(stoppedEarly, forKey: Key("stopped_early"))
        try c.encodeIfPresent(monitor, forKey: Key("monitor"))
        // JSON has no NaN: a metric that could not be computed is left out.
        for (k, v) in metrics where v.isFinite && !Self.fixed.contains(k) { try c.encode(v, forKey: Key(k)) }
    }

    /// Reads `<run>/summary.json`.
    public static func read(_ url: URL) throws -> RunSummary {
        try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: url))
    }
}

/// A key of a flat JSON object whose keys are not all known in advance (summary.json,
/// metrics.jsonl: common fields beside a task's metrics).
struct FlatKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    /// Every number of `c` under a key not in `fixed`, by key.
    static func numbers(in c: KeyedDecodingContainer<FlatKey>, except fixed: Set<String>) -> [String: Double] {
        var out: [String: Double] = [:]
        for k in c.allKeys where !fixed.contains(k.stringValue) {
            if let v = try? c.decode(Double.self, forKey: k) { out[k.stringValue] = v }
        }
        return out
    }
}
