// TensorBoard event files: runs/<name>/tb/events.out.tfevents.<unix time>.<host>,
// written by rank 0 beside metrics.jsonl, with the same numbers at the same steps.
//
// Each metric record becomes one event whose summary holds a scalar per number
// (`train/loss`, `validation/accuracy`, `lr`, `train/samples_per_sec`), and each image a
// task shows (sample grids, misclassified examples) one event with a PNG; with
// `logging.histograms`, each epoch adds a histogram of every parameter and its gradient. Events are kept in memory and written
// when the loop flushes (each epoch and at the end). A resumed run starts a new file —
// TensorBoard merges the files of a directory — after dropping from the earlier files
// the events past the checkpoint it resumes from, as metrics.jsonl drops its lines.
import Foundation
import Glibc
import PhalanxNN

/// Writes one run's TensorBoard event file (rank 0).
public final class TensorBoardLog {
    /// The event file this run writes.
    public let url: URL
    private let handle: FileHandle
    private var pending: [UInt8] = []

    /// File names TensorBoard recognises as event files contain this.
    public static let marker = "tfevents"

    /// Opens a new event file in `directory` (created). When resuming, events past
    /// `keepThroughStep` in the directory's earlier files are dropped first.
    public init(directory: URL, keepThroughStep: Int? = nil) throws(CheckpointError) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(file: directory.path, .io("cannot create the TensorBoard directory: \(error.localizedDescription)"))
        }
        if let limit = keepThroughStep {
            for file in Self.eventFiles(in: directory) { try Self.trim(file, keepingThroughStep: limit) }
        }
        let now = Date().timeIntervalSince1970
        let base = "events.out.\(Self.marker).\(Int(now)).\(Self.hostName())"
        var name = base, n = 0
        while fm.fileExists(atPath: directory.appendingPathComponent(name).path) { n += 1; name = "\(base).\(n)" }
        url = directory.appendingPathComponent(name)
        guard fm.createFile(atPath: url.path, contents: nil), let h = FileHandle(forWritingAtPath: url.path) else {
            throw CheckpointError(file: url.path, .io("cannot create the TensorBoard event file"))
        }
        handle = h
        pending = TFRecord.frame(EventMessage.header(wallTime: now))
        try flush()
    }

    deinit {
        try? flush()
        try? handle.close()
    }

    /// Adds the scalars of a metrics record, at its step.
    public func add(_ record: MetricRecord) {
        let scalars = record.tensorBoardScalars
        guard !scalars.isEmpty else { return }
        pending += TFRecord.frame(EventMessage.scalars(scalars, step: record.step, wallTime: Date().timeIntervalSince1970))
    }

    /// Adds an image at `step`.
    public func add(_ image: EventImage, step: Int) {
        pending += TFRecord.frame(EventMessage.image(image, step: step, wallTime: Date().timeIntervalSince1970))
    }

    /// Adds a histogram under `tag` at `step`.
    public func add(_ histogram: Histogram, tag: String, step: Int) {
        pending += TFRecord.frame(EventMessage.histogram(histogram, tag: tag, step: step,
                                                         wallTime: Date().timeIntervalSince1970))
    }

    /// Adds `weights/<name>` and `gradients/<name>` histograms of every trainable parameter at `step`.
    public func addHistograms(of parameters: [Parameter], step: Int) {
        for p in parameters {
            if let h = Histogram(UnsafeBufferPointer(start: p.value.data, count: p.count)) {
                add(h, tag: "weights/\(p.name)", step: step)
            }
            if p.requiresGrad, let h = Histogram(UnsafeBufferPointer(start: p.gradient.data, count: p.count)) {
                add(h, tag: "gradients/\(p.name)", step: step)
            }
        }
    }

    /// Writes what was added since the last flush; a failed write (a full disk) is an
    /// error naming the file.
    public func flush() throws(CheckpointError) {
        guard !pending.isEmpty else { return }
        do {
            try handle.write(contentsOf: pending)
        } catch {
            throw CheckpointError(file: url.path, .io("cannot write TensorBoard events: \(error.localizedDescription)"))
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// The event files in `directory`, in the order TensorBoard reads them (by name).
    public static func eventFiles(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.contains(marker) }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// Rewrites `file` without its events past `step` and without a torn last frame;
    /// leaves it alone when there is nothing to drop.
    static func trim(_ file: URL, keepingThroughStep step: Int) throws(CheckpointError) {
        let bytes = try DurableFile.readAll(file)
        let frames = TFRecord.frames(in: bytes)
        let kept = frames.filter { (EventMessage.step(of: bytes[$0.data]) ?? Int.max) <= step }
        guard kept.count < frames.count || (frames.last?.frame.upperBound ?? 0) < bytes.count else { return }
        try DurableFile.writeAtomically(kept.flatMap { bytes[$0.frame] }, to: file)
    }

    /// The host name as TensorBoard's writers put it in file names.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).filter { $0 != "/" }
        return name.isEmpty ? "localhost" : name
    }
}

extension MetricRecord {
    /// The record's numbers as TensorBoard scalars: `<split>/<name>` for each metric and
    /// `samples_per_sec`, and `lr` as `lr`; `step`, `epoch` and `time` are not metrics.
    /// The same numbers `metrics.jsonl` holds for the record (non-finite ones are left
    /// out of both).
    public var tensorBoardScalars: [(tag: String, value: Double)] {
        var out: [(tag: String, value: Double)] = [("\(split)/loss", loss)]
        if let accuracy { out.append(("\(split)/accuracy", accuracy)) }
        if let lr { out.append(("lr", lr)) }
        if let samplesPerSec { out.append(("\(split)/samples_per_sec", samplesPerSec)) }
        for (k, v) in values.sorted(by: { $0.key < $1.key }) { out.append(("\(split)/\(k)", v)) }
        return out.filter { $0.value.isFinite }
    }
}
