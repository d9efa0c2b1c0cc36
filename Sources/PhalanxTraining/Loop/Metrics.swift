// Metrics: one JSON object a line in runs/<name>/metrics.jsonl (rank 0 only).
import Foundation

/// One record of `metrics.jsonl`: the common fields, and any other metric of the task
/// (`bits_per_char`, `exact_match`) as a key of its own.
public struct MetricRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var epoch: Int
    /// `train`, `validation` or `test`.
    public var split: String
    public var loss: Double
    public var accuracy: Double?
    public var lr: Double?
    public var samplesPerSec: Double?
    /// Seconds since the run started.
    public var time: Double
    /// The task's other metrics of this split, by name.
    public var values: [String: Double]

    private typealias Key = FlatKey
    private static let fixed: Set<String> = ["step", "epoch", "split", "loss", "accuracy", "lr", "samples_per_sec", "time"]

    public init(step: Int, epoch: Int, split: String, loss: Double, accuracy: Double? = nil,
                lr: Double? = nil, samplesPerSec: Double? = nil, time: Double, values: [String: Double] = [:]) {
        self.step = step; self.epoch = epoch; self.split = split; self.loss = loss
        self.accuracy = accuracy; self.lr = lr; self.samplesPerSec = samplesPerSec; self.time = time
        self.values = values.filter { !Self.fixed.contains($0.key) }
    }

    /// A record of a split's metrics as a task reports them (`loss`, `accuracy`, others).
    public init(step: Int, epoch: Int, split: String, metrics: [String: Double], lr: Double? = nil,
                samplesPerSec: Double? = nil, time: Double) {
        self.init(step: step, epoch: epoch, split: split, loss: metrics["loss"] ?? .nan, accuracy: metrics["accuracy"],
                  lr: lr, samplesPerSec: samplesPerSec, time: time, values: metrics)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        step = try c.decode(Int.self, forKey: Key("step"))
        epoch = try c.decode(Int.self, forKey: Key("epoch"))
        split = try c.decode(String.self, forKey: Key("split"))
        loss = try c.decode(Double.self, forKey: Key("loss"))
        accuracy = try c.decodeIfPresent(Double.self, forKey: Key("accuracy"))
        lr = try c.decodeIfPresent(Double.self, forKey: Key("lr"))
        samplesPerSec = try c.decodeIfPresent(Double.self, forKey: Key("samples_per_sec"))
        time = try c.decode(Double.self, forKey: Key("time"))
        values = FlatKey.numbers(in: c, except: Self.fixed)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(step, forKey: Key("step"))
        try c.encode(epoch, forKey: Key("epoch"))
        try c.encode(split, forKey: Key("split"))
        try c.encode(loss, forKey: Key("loss"))
        try c.encodeIfPresent(accuracy, forKey: Key("accuracy"))
        try c.encodeIfPresent(lr, forKey: Key("lr"))
        try c.encodeIfPresent(samplesPerSec, forKey: Key("samples_per_sec"))
        try c.encode(time, forKey: Key("time"))
        for (k, v) in values where v.isFinite { try c.encode(v, forKey: Key(k)) }
    }

    /// Every metric of the record by name (`loss`, `accuracy` and the others).
    public var metrics: [String: Double] {
        var m = values
        m["loss"] = loss
        if let accuracy { m["accuracy"] = accuracy }
        return m
    }
}

/// Appends metric records to a JSONL file, flushing each line.
public final class MetricsLog {
    public let url: URL
    private let handle: FileHandle
    private let encoder: JSONEncoder

    /// Opens (creating) `url`. When resuming, records after `keepThroughStep` — written
    /// by the interrupted run after its last checkpoint — are dropped first.
    public init(url: URL, keepThroughStep: Int? = nil) throws {
        self.url = url
        let fm = FileManager.default
        try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var kept = Data()
        if let limit = keepThroughStep, let old = try? Data(contentsOf: url) {
            for line in old.split(separator: UInt8(ascii: "\n")) {
                if let r = try? JSONDecoder().decode(MetricRecord.self, from: Data(line)), r.step <= limit {
                    kept.append(contentsOf: line)
                    kept.append(UInt8(ascii: "\n"))
                }
            }
            try kept.write(to: url)
        } else if keepThroughStep == nil {
            try Data().write(to: url)
        }
        if !fm.fileExists(atPath: url.path) { try Data().write(to: url) }
        handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
    }

    deinit { try? handle.close() }

    /// Appends one record; a failed write (a full disk) is an error naming the file.
    /// Returns false for a record JSON cannot hold (a NaN loss), which is left out.
    @discardableResult
    public func append(_ record: MetricRecord) throws -> Bool {
        guard var line = try? encoder.encode(record) else { return false }
        line.append(UInt8(ascii: "\n"))
        do {
            try handle.write(contentsOf: line)
        } catch {
            throw CheckpointError(file: url.path, .io("cannot append metrics: \(error.localizedDescription)"))
        }
        return true
    }

    /// Reads every record of a metrics file.
    public static func read(_ url: URL) throws -> [MetricRecord] {
        let data = try Data(contentsOf: url)
        return try data.split(separator: UInt8(ascii: "\n")).map {
            try JSONDecoder().decode(MetricRecord.self, from: Data($0))
        }
    }
}
