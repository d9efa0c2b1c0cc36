// CheckpointStore: the `runs/<name>/checkpoints/` directory — atomic saves, the
// `latest` and `best` links, pruning, and resuming from the newest good checkpoint.
//
// A save writes its files into `.tmp-step-000123-<pid>`, fsyncs them and the
// directory, renames it to `step-000123`, fsyncs the parent, then points `latest`
// at it by renaming a fresh relative symlink over the old one. A crash at any point
// leaves either the old state or the new, plus at worst a `.tmp-*` directory that
// nothing takes for a checkpoint. Only `step-<digits>` directories are checkpoints.
import Foundation
import Glibc
import PhalanxCore
import PhalanxNN

/// The checkpoints of one run, in `runs/<name>/checkpoints/`.
public struct CheckpointStore: Sendable {
    /// The checkpoints directory.
    public let directory: URL
    /// How many step directories to keep after each save (newest first, plus what
    /// `latest` and `best` name); nil keeps all.
    public var keep: Int?

    /// The store in `directory` (created on the first save).
    public init(directory: URL, keep: Int? = nil) {
        precondition(keep.map { $0 >= 1 } ?? true, "CheckpointStore: keep must be at least 1")
        self.directory = directory
        self.keep = keep
    }

    /// The store of run `name`: `<runs>/<name>/checkpoints`.
    public init(run name: String, runs: URL = URL(fileURLWithPath: "runs"), keep: Int? = nil) {
        self.init(directory: runs.appendingPathComponent(name).appendingPathComponent("checkpoints"), keep: keep)
    }

    /// The directory of `step`'s checkpoint.
    public func url(step: Int) -> URL { directory.appendingPathComponent(CheckpointLayout.directoryName(step: step)) }

    /// The steps that have a `step-*` directory, ascending (temporary ones excluded;
    /// whether their files are good is not checked).
    public func steps() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> Int? in
            guard let step = CheckpointLayout.step(fromDirectoryName: name) else { return nil }
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: url(step: step).path, isDirectory: &isDirectory)
            return exists && isDirectory.boolValue && name == CheckpointLayout.directoryName(step: step) ? step : nil
        }.sorted()
    }

    /// The step `latest` names, if the link exists and names a step directory.
    public func latestStep() -> Int? { linkedStep(CheckpointLayout.latest) }

    /// The step `best` names, if the link exists and names a step directory.
    public func bestStep() -> Int? { linkedStep(CheckpointLayout.best) }

    private func linkedStep(_ link: String) -> Int? {
        guard let target = DurableFile.symlinkTarget(directory.appendingPathComponent(link)),
              let step = CheckpointLayout.step(fromDirectoryName: target) else { return nil }
        return steps().contains(step) ? step : nil
    }

    /// Saves a checkpoint of `step` atomically and points `latest` at it (and `best`
    /// when `best` is true), then prunes to `keep`. Replaces an existing checkpoint of
    /// the same step. Returns the checkpoint's directory.
    @discardableResult
    public func save<State: Encodable>(step: Int, model: SafeTensors, optimizer: SafeTensors, trainer: State,
                                       best: Bool = false) throws(CheckpointError) -> URL {
        precondition(step >= 0, "CheckpointStore: negative step \(step)")
        if !FileManager.default.fileExists(atPath: directory.path) {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw CheckpointError(file: directory.path, .io("cannot create directory: \(error.localizedDescription)"))
            }
            try DurableFile.syncDirectory(directory.deletingLastPathComponent())
        }
        let name = CheckpointLayout.directoryName(step: step)
        let final = directory.appendingPathComponent(name)
        let temporary = directory.appendingPathComponent(".tmp-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: temporary)
        do {
            try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: false)
        } catch {
            throw CheckpointError(file: temporary.path, .io("cannot create directory: \(error.localizedDescription)"))
        }
        do {
            try writeCheckpointFiles(into: temporary, step: step, model: model, optimizer: optimizer, trainer: trainer)
            try DurableFile.syncDirectory(temporary)
            try replaceDirectory(final, with: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        try DurableFile.replaceSymlink(directory.appendingPathComponent(CheckpointLayout.latest), target: name)
        if best { try markBest(step: step) }
        if let keep { try prune(keep: keep) }
        return final
    }

    /// Saves `model`'s parameters and buffers, the optimizer's state tensors with
    /// extra metadata, and the trainer state; see `save(step:model:optimizer:trainer:best:)`.
    @discardableResult
    public func save<State: Encodable>(step: Int, model: Layer, optimizer: [String: Tensor],
                                       optimizerMetadata: [String: String] = [:], trainer: State,
                                       best: Bool = false) throws(CheckpointError) -> URL {
        try save(step: step, model: ModelState.tensors(of: model),
                 optimizer: SafeTensors(tensors: optimizer, metadata: optimizerMetadata), trainer: trainer, best: best)
    }

    /// Points `best` at the checkpoint of `step`, which must exist.
    public func markBest(step: Int) throws(CheckpointError) {
        guard steps().contains(step) else { throw CheckpointError(file: url(step: step).path, .missing) }
        try DurableFile.replaceSymlink(directory.appendingPathComponent(CheckpointLayout.best),
                                       target: CheckpointLayout.directoryName(step: step))
    }

    /// Whether the checkpoint of `step` looks whole: its trainer.json reads and both
    /// safetensors files have the recorded sizes (checksums are checked when it loads).
    public func isUsable(step: Int) -> Bool {
        let dir = url(step: step)
        guard let record: TrainerFile<Opaque> = try? readTrainerFile(in: dir) else { return false }
        for name in [CheckpointLayout.model, CheckpointLayout.optimizer] {
            guard let expected = record.files[name]?.bytes,
                  let size = (try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(name).path))?[.size]
                    as? Int, size == expected else { return false }
        }
        return true
    }

    /// Removes all but the `keep` newest usable step directories, sparing those `latest`
    /// and `best` name; a step directory that is not usable (empty, truncated) does not
    /// count toward `keep` and is left for a person to look at. Each is renamed to a
    /// temporary name before it is deleted, so a crash never leaves half a checkpoint
    /// under a step name. Returns removed steps.
    @discardableResult
    public func prune(keep: Int) throws(CheckpointError) -> [Int] {
        precondition(keep >= 1, "CheckpointStore: keep must be at least 1")
        let all = steps().filter { isUsable(step: $0) }
        let spared = Set(all.suffix(keep) + [latestStep(), bestStep()].compactMap { $0 })
        let doomed = all.filter { !spared.contains($0) }
        for step in doomed {
            let trash = directory.appendingPathComponent(".tmp-prune-\(CheckpointLayout.directoryName(step: step))-\(getpid())")
            try DurableFile.move(url(step: step), to: trash)
            try? FileManager.default.removeItem(at: trash)
        }
        if !doomed.isEmpty { try DurableFile.syncDirectory(directory) }
        return doomed
    }

    /// Loads the checkpoint `latest` names, verified; nil when there is no `latest`.
    public func loadLatest<State: Decodable>(as type: State.Type) throws(CheckpointError) -> Checkpoint<State>? {
        guard let step = latestStep() else { return nil }
        return try Checkpoint.load(from: url(step: step), as: type)
    }

    /// The steps a resume tries, in order: the one `latest` names, then the others from
    /// the newest down.
    public func resumeOrder() -> [Int] {
        let latest = latestStep()
        return (latest.map { [$0] } ?? []) + steps().reversed().filter { $0 != latest }
    }

    /// The checkpoint to continue from: the one `latest` names, else (when it is missing
    /// or fails to verify) the newest that loads and verifies, trying step directories
    /// from the newest down; each one refused is reported in `skipped` with its error.
    /// Returns nil when there are no checkpoints at all, and throws
    /// `.noUsableCheckpoint` (listing every refusal) when none of them is good.
    public func resume<State: Decodable>(as type: State.Type) throws(CheckpointError) -> ResumePoint<State>? {
        var skipped: [CheckpointError] = []
        for step in resumeOrder() {
            do {
                return ResumePoint(checkpoint: try Checkpoint.load(from: url(step: step), as: type), skipped: skipped)
            } catch {
                skipped.append(error)
            }
        }
        if skipped.isEmpty { return nil }
        throw CheckpointError(file: directory.path, .noUsableCheckpoint(skipped: skipped.map(\.description)))
    }

    /// Creates the directory if need be and writes and removes a probe file in it, so that
    /// a run that could not save its checkpoints stops before training, not after an epoch.
    public func checkWritable() throws(CheckpointError) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(file: directory.path, .io("cannot create the checkpoint directory: \(describeIOError(error))"))
        }
        let probe = directory.appendingPathComponent(".tmp-probe-\(getpid())")
        guard FileManager.default.createFile(atPath: probe.path, contents: Data("probe".utf8)) else {
            throw CheckpointError(file: directory.path, .io("cannot write into the checkpoint directory (permissions, a full or read-only disk?)"))
        }
        try? FileManager.default.removeItem(at: probe)
    }

    /// Removes the `.tmp-*` directories interrupted saves and prunes left behind (call it
    /// when no other process writes this store). Returns their names.
    @discardableResult
    public func removeTemporaries() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let stale = names.filter { $0.hasPrefix(".tmp-") }
        for name in stale { try? FileManager.default.removeItem(at: directory.appendingPathComponent(name)) }
        return stale
    }

    /// Renames `temporary` to `final`; an existing `final` is first moved aside and
    /// deleted once the new one is in place.
    private func replaceDirectory(_ final: URL, with temporary: URL) throws(CheckpointError) {
        var aside: URL?
        if FileManager.default.fileExists(atPath: final.path) {
            let old = directory.appendingPathComponent(".tmp-old-\(final.lastPathComponent)-\(getpid())")
            try? FileManager.default.removeItem(at: old)
            try DurableFile.move(final, to: old)
            aside = old
        }
        try DurableFile.move(temporary, to: final)
        try DurableFile.syncDirectory(directory)
        if let aside { try? FileManager.default.removeItem(at: aside) }
    }
}

/// Where training resumes: the newest good checkpoint, and the newer ones refused.
public struct ResumePoint<State: Decodable> {
    /// The checkpoint to continue from.
    public let checkpoint: Checkpoint<State>
    /// Newer checkpoints that failed to load, newest first, each with its reason.
    public let skipped: [CheckpointError]
}

extension ResumePoint: Sendable where State: Sendable {}

/// A Foundation file error as a short reason (`permission denied`, `not a directory`)
/// instead of its NSCocoaErrorDomain dump.
func describeIOError(_ error: Error) -> String {
    let ns = error as NSError
    if let posix = (ns.userInfo[NSUnderlyingErrorKey] as? NSError), posix.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(posix.code))).lowercased()
    }
    switch ns.code {
    case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "permission denied"
    case NSFileWriteOutOfSpaceError: return "no space left on the device"
    case NSFileWriteVolumeReadOnlyError: return "read-only file system"
    case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file or directory"
    default: return ns.localizedDescription
    }
}
