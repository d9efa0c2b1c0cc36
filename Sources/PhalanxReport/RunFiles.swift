// Reading what a run directory holds for the report: metrics.jsonl line by line (a bad
// line is an error naming the file and line), summary.json, and a coordinator's
// ensemble.json or sweep.json, each decoded with the type that wrote it.
import Foundation
import PhalanxCoordinator
import PhalanxTraining

/// The files of a run directory the report reads.
public enum RunFiles {
    public static let metrics = "metrics.jsonl", summary = "summary.json"
    public static let ensemble = "ensemble.json", sweep = "sweep.json"

    /// Every record of `url` (a metrics.jsonl), in file order; blank lines are skipped.
    /// A missing file, a line that is not JSON or lacks a field is an error naming the file
    /// and the line.
    public static func readMetrics(_ url: URL) throws(ReportError) -> [MetricRecord] {
        let data = try read(url, what: "the run's metrics (one JSON object a line)")
        var records: [MetricRecord] = [], number = 0
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else { continue }
            do {
                records.append(try decoder.decode(MetricRecord.self, from: Data(line)))
            } catch {
                throw ReportError(file: url.path, line: number, "not a metrics record: \(describe(error))")
            }
        }
        guard !records.isEmpty else { throw ReportError(file: url.path, "holds no metrics records") }
        return records
    }

    /// `url` decoded as `T` (summary.json, ensemble.json, sweep.json); errors name the file.
    public static func decode<T: Decodable>(_ type: T.Type, from url: URL, what: String) throws(ReportError) -> T {
        let data = try read(url, what: what)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw ReportError(file: url.path, "not \(what): \(describe(error))")
        }
    }

    /// The run's summary.json, nil when there is none (a run still training).
    public static func summary(in run: URL) throws(ReportError) -> RunSummary? {
        let url = run.appendingPathComponent(summary)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try decode(RunSummary.self, from: url, what: "a run summary")
    }

    /// PNG files under `run/samples` (`epoch-NNN.png` and any other), by name.
    public static func sampleImages(in run: URL) -> [URL] {
        let dir = run.appendingPathComponent("samples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".png") }.sorted().map { dir.appendingPathComponent($0) }
    }

    private static func read(_ url: URL, what: String) throws(ReportError) -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ReportError(file: url.path, "no such file (expected \(what))")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw ReportError(file: url.path, "cannot read: \(error.localizedDescription)")
        }
    }

    /// A decoding error in a few words: which field, what was wrong.
    static func describe(_ error: Error) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let c)?:
            return "no \"\(path(c.codingPath + [key]))\" field"
        case .typeMismatch(let t, let c)?:
            return "\"\(path(c.codingPath))\" is not of type \(t)"
        case .valueNotFound(_, let c)?:
            return "\"\(path(c.codingPath))\" is null"
        case .dataCorrupted(let c)?:
            return c.codingPath.isEmpty ? "not valid JSON" : "\"\(path(c.codingPath))\": \(c.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
