// Metrics: one JSON object a line in runs/<name>/metrics.jsonl (rank 0 only).
import Foundation

/// One record of `metrics.jsonl`.
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

    enum CodingKeys: String, CodingKey {
        case step, epoch, split, loss, accuracy, lr, time
        case samplesPerSec = "samples_per_sec"
    }

    public init(step: Int, epoch: Int, split: String, loss: Double, accuracy: Double? = nil,
                lr: Double? = nil, samplesPerSec: Double? = nil, time: Double) {
        self.step = step; self.epoch = epoch; self.split = split; self.loss = loss
        self.accuracy = accuracy; self.lr = lr; self.samplesPerSec = samplesPerSec; self.time = time
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

    /// Appends one record.
    public func append(_ record: MetricRecord) {
        guard var line = try? encoder.encode(record) else { return }
        line.append(UInt8(ascii: "\n"))
        handle.write(line)
    }

    /// Reads every record of a metrics file.
    public static func read(_ url: URL) throws -> [MetricRecord] {
        let data = try Data(contentsOf: url)
        return try data.split(separator: UInt8(ascii: "\n")).map {
            try JSONDecoder().decode(MetricRecord.self, from: Data($0))
        }
    }
}
