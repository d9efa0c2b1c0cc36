// Moving an earlier run aside when a fresh start reuses its directory.
import Foundation

/// Moves an earlier run out of the way of a fresh start.
enum RunArchive {
    /// Renames `run` to `<run>-archived-<UTC time>` when it holds a run (checkpoints, a
    /// summary or metrics); returns the new place, or nil when there was nothing to move.
    static func archive(_ run: URL) throws -> URL? {
        let fm = FileManager.default
        let checkpoints = (try? fm.contentsOfDirectory(atPath: run.appendingPathComponent("checkpoints").path)) ?? []
        let used = checkpoints.contains { CheckpointLayout.step(fromDirectoryName: $0) != nil }
            || fm.fileExists(atPath: run.appendingPathComponent("summary.json").path)
            || fm.fileExists(atPath: run.appendingPathComponent("metrics.jsonl").path)
        guard used else { return nil }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let stamp = formatter.string(from: Date())
        var target = run.deletingLastPathComponent().appendingPathComponent("\(run.lastPathComponent)-archived-\(stamp)")
        var n = 2
        while fm.fileExists(atPath: target.path) {
            target = run.deletingLastPathComponent().appendingPathComponent("\(run.lastPathComponent)-archived-\(stamp)-\(n)")
            n += 1
        }
        do {
            try fm.moveItem(at: run, to: target)
        } catch {
            throw CheckpointError(file: run.path, .io("cannot move the earlier run aside to \(target.lastPathComponent): "
                + error.localizedDescription))
        }
        return target
    }
}
