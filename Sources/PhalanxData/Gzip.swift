// zlib's gzip file interface: a reader that fills caller buffers in large chunks, and a
// writer for tests and tools. gzopen reads uncompressed files transparently, so one
// path serves `train-images-idx3-ubyte.gz` and `train-images-idx3-ubyte` alike.
import CZlib
import Foundation

/// An open file read through zlib; closed when released.
final class GzipReader {
    let path: String
    private let file: gzFile
    /// Bytes delivered so far (after decompression).
    private(set) var offset = 0
    /// Whether the compressed stream ended before its gzip trailer.
    private(set) var cutShort = false

    /// Opens `path`, telling a missing file from one that cannot be opened.
    init(path: String) throws(DataError) {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        if isDirectory.boolValue { throw .unreadable(path: path, reason: "it is a directory") }
        guard let file = gzopen(path, "rb") else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        self.file = file
        gzbuffer(file, 1 << 18)
    }

    deinit { gzclose(file) }

    /// Reads up to `count` bytes into `buffer`; fewer only at the end of the data.
    /// A damaged gzip stream is an `unreadable` error; one cut short reads as the end
    /// of the data and sets `cutShort`.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(DataError) -> Int {
        // gztell counts what was really delivered, also when gzread reports 0 after a
        // partial copy at a damaged end.
        let start = Int(gztell(file))
        var done = 0
        while done < count {
            let want = UInt32(min(count - done, 1 << 30))
            let got = gzread(file, buffer + done, want)
            if got < 0 { throw .unreadable(path: path, reason: zlibError()) }
            if got == 0 {
                var code: Int32 = 0
                _ = gzerror(file, &code)
                if code == Z_BUF_ERROR { cutShort = true } else if code != Z_OK {
                    throw .unreadable(path: path, reason: zlibError())
                }
                done = Int(gztell(file)) - start
                break
            }
            done += Int(got)
        }
        offset += done
        return done
    }

    /// Reads up to `count` bytes into the start of `bytes` (which must hold them).
    func read(into bytes: inout [UInt8], count: Int) throws(DataError) -> Int {
        precondition(count <= bytes.count)
        let result = bytes.withUnsafeMutableBytes { b in
            Result { () throws(DataError) -> Int in try read(into: b.baseAddress!, count: count) }
        }
        return try result.get()
    }

    /// Reads exactly `count` bytes into the start of `bytes`, or reports how many there
    /// were as `part` truncated.
    func readExactly(into bytes: inout [UInt8], count: Int, part: String,
                     expectedTotal: Int, foundSoFar: Int) throws(DataError) {
        let got = try read(into: &bytes, count: count)
        if got < count {
            let what = cutShort ? part + " (the gzip stream itself is cut short)" : part
            throw .truncated(path: path, part: what, expectedBytes: expectedTotal, foundBytes: foundSoFar + got)
        }
    }

    /// Counts the bytes left in the file by reading them.
    func countRemaining() throws(DataError) -> Int {
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        var total = 0
        while true {
            let got = try read(into: &scratch, count: scratch.count)
            if got == 0 { return total }
            total += got
        }
    }

    private func zlibError() -> String {
        var code: Int32 = 0
        guard let message = gzerror(file, &code) else { return "zlib error" }
        return code == Z_ERRNO ? String(cString: strerror(errno)) : "damaged gzip data (\(String(cString: message)))"
    }
}

/// Writes byte files through zlib.
public enum Gzip {
    /// Writes `bytes` to `path`, gzip-compressed unless `compressed` is false.
    public static func write(_ bytes: [UInt8], to path: String, compressed: Bool = true) throws(DataError) {
        guard let file = gzopen(path, compressed ? "wb6" : "wbT") else {
            throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
        var written: Int32 = 0
        if !bytes.isEmpty {
            written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress!, UInt32($0.count)) }
        }
        let closed = gzclose(file)
        if (!bytes.isEmpty && Int(written) != bytes.count) || closed != Z_OK {
            throw .cannotWrite(path: path, reason: "zlib wrote \(written) of \(bytes.count) bytes (close status \(closed))")
        }
    }
}
