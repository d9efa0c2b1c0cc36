// DurableFile: whole-file reads and fsynced writes through POSIX calls, plus zlib's
// CRC-32 — the pieces the checkpoint code needs to be crash-safe.
//
// Foundation's `Data.write(options: .atomic)` does not fsync on Linux, so files and
// directories are written and synced here with Glibc. Errors name the path and errno.
import CZlib
import Foundation
import Glibc

/// Reading, writing and syncing whole files, with errors that name the path.
public enum DurableFile {
    /// The whole file at `url`; `.missing` when it does not exist.
    public static func readAll(_ url: URL) throws(CheckpointError) -> [UInt8] {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure(path, "cannot stat") }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw CheckpointError(file: path, .io("is a directory")) }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failure(path, "cannot read") }
            if n == 0 { bytes.removeLast(size - done); break } // shrank while reading
            done += n
        }
        return bytes
    }

    /// Writes `bytes` to `url` (created or truncated) in as few `write` calls as the
    /// kernel allows and fsyncs it before returning.
    static func writeSynced(_ bytes: [UInt8], to url: URL) throws(CheckpointError) {
        let path = url.path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(path, "cannot create") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = failure(path, "cannot write")
                close(fd)
                throw error
            }
            done += n
        }
        guard fsync(fd) == 0 else {
            let error = failure(path, "cannot fsync")
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw failure(path, "cannot close") }
    }

    /// Writes `bytes` to a temporary sibling of `url`, fsyncs it, renames it over
    /// `url` and fsyncs the directory: readers see the old file or the new, never half.
    public static func writeAtomically(_ bytes: [UInt8], to url: URL) throws(CheckpointError) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".tmp-\(getpid())-\(url.lastPathComponent)")
        do {
            try writeSynced(bytes, to: temporary)
            try move(temporary, to: url)
        } catch {
            unlink(temporary.path)
            throw error
        }
        try syncDirectory(directory)
    }

    /// `rename(2)`: atomically replaces `destination` (a file, a link or an empty directory).
    static func move(_ source: URL, to destination: URL) throws(CheckpointError) {
        guard rename(source.path, destination.path) == 0 else {
            throw failure(destination.path, "cannot rename \(source.lastPathComponent) into place")
        }
    }

    /// Fsyncs a directory so that the names created or renamed in it are durable.
    static func syncDirectory(_ url: URL) throws(CheckpointError) {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(url.path, "cannot open directory") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(url.path, "cannot fsync directory") }
    }

    /// Points the symbolic link `link` at `target` (a relative path) atomically: a
    /// temporary link is made beside it and renamed over it, then the directory synced.
    static func replaceSymlink(_ link: URL, target: String) throws(CheckpointError) {
        let directory = link.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".tmp-\(getpid())-\(link.lastPathComponent)")
        unlink(temporary.path)
        guard symlink(target, temporary.path) == 0 else { throw failure(temporary.path, "cannot create symlink") }
        do {
            try move(temporary, to: link)
        } catch {
            unlink(temporary.path)
            throw error
        }
        try syncDirectory(directory)
    }

    /// The target of the symbolic link `link`, or nil when there is no such link.
    static func symlinkTarget(_ link: URL) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(link.path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An error for `path` carrying `what` and the current `errno`.
    static func failure(_ path: String, _ what: String) -> CheckpointError {
        let code = errno
        if code == ENOENT { return CheckpointError(file: path, .missing) }
        return CheckpointError(file: path, .io("\(what): \(String(cString: strerror(code)))"))
    }
}

/// The CRC-32 (zlib / PNG polynomial) of `bytes`.
func crc32Checksum(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { crc32Checksum($0) }
}

/// CRC-32 (zlib's) of raw memory, in chunks zlib's length type holds.
func crc32Checksum(_ buffer: UnsafeRawBufferPointer) -> UInt32 {
    var crc = crc32(0, nil, 0)
    guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return UInt32(crc) }
    var offset = 0
    while offset < buffer.count {
        let chunk = min(buffer.count - offset, 1 << 30)
        crc = crc32(crc, base + offset, uInt(chunk))
        offset += chunk
    }
    return UInt32(crc)
}
