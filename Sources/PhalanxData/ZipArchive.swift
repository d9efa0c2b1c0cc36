// The zip archives NumPy writes for .npz (numpy.savez: entries stored; savez_compressed:
// deflated), read through the central directory, with Zip64 sizes and offsets (NumPy
// forces Zip64 local headers). Deflated entries are inflated by zlib (raw deflate) and
// every entry's CRC-32 is checked. Left out: encryption, multi-disk archives, methods
// other than stored and deflate.
import CZlib
import Foundation

/// A zip archive held as a memory-mapped file; entries are decompressed on request.
struct ZipArchive {
    /// One file in the archive, as the central directory describes it.
    struct Entry {
        let name: String
        let method: UInt16
        let flags: UInt16
        let crc: UInt32
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let path: String
    let bytes: Data
    let entries: [Entry]

    /// Deflate cannot expand data by more than about 1032:1; an entry announcing more is damaged.
    static let maxDeflateRatio = 1100

    /// Opens `path` and reads its central directory.
    init(path: String) throws(DataError) {
        self.path = path
        bytes = try mapFile(path)
        entries = try Self.readDirectory(bytes, path: path)
    }

    /// The entry called `name`, or `name.npy` (how numpy.savez names its arrays).
    func entry(_ name: String) -> Entry? {
        entries.first { $0.name == name } ?? entries.first { $0.name == name + ".npy" }
    }

    /// The uncompressed contents of `entry`, its CRC-32 checked.
    func contents(of entry: Entry) throws(DataError) -> Data {
        func damaged(_ reason: String) -> DataError { .malformed(path: path, entry: entry.name, reason: reason) }
        if entry.flags & 1 != 0 { throw damaged("the entry is encrypted") }
        let local = entry.localHeaderOffset
        guard local >= 0, local + 30 <= bytes.count, read32(bytes, local) == 0x0403_4B50 else {
            throw damaged("no local file header at offset \(local) (damaged zip archive)")
        }
        let start = local + 30 + Int(read16(bytes, local + 26)) + Int(read16(bytes, local + 28))
        guard start + entry.compressedSize <= bytes.count else {
            throw .truncated(path: path, part: "entry '\(entry.name)'", expectedBytes: start + entry.compressedSize,
                             foundBytes: bytes.count)
        }
        let raw = bytes.subdata(in: start..<(start + entry.compressedSize))
        let out: Data
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.size else { throw damaged("a stored entry whose sizes differ") }
            out = raw
        case 8:
            guard entry.size <= max(entry.compressedSize, 1) * Self.maxDeflateRatio else {
                throw damaged("\(entry.size) bytes cannot come from \(entry.compressedSize) deflated bytes (damaged header)")
            }
            out = try inflate(raw, size: entry.size, damaged: damaged)
        default:
            throw damaged("compression method \(entry.method) is not supported (only stored and deflate are)")
        }
        let crc = out.withUnsafeBytes { b in UInt32(crc32(0, b.bindMemory(to: Bytef.self).baseAddress, uInt(b.count))) }
        guard crc == entry.crc else { throw damaged("CRC-32 \(hex(crc)) differs from the archive's \(hex(entry.crc))") }
        return out
    }

    private func inflate(_ raw: Data, size: Int, damaged: (String) -> DataError) throws(DataError) -> Data {
        var out = Data(count: size)
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw damaged("zlib cannot start inflating")
        }
        defer { inflateEnd(&stream) }
        var raw = raw
        let rc = raw.withUnsafeMutableBytes { input in
            out.withUnsafeMutableBytes { output -> Int32 in
                stream.next_in = input.bindMemory(to: Bytef.self).baseAddress
                stream.avail_in = uInt(input.count)
                stream.next_out = output.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(output.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        if rc == Z_BUF_ERROR && stream.total_out < size {
            throw damaged("the deflate stream ends after \(stream.total_out) of \(size) bytes (truncated)")
        }
        guard rc == Z_STREAM_END, Int(stream.total_out) == size else {
            let why = stream.msg.map { String(cString: $0) } ?? "status \(rc)"
            throw damaged("damaged deflate stream (\(why))")
        }
        return out
    }

    private static func readDirectory(_ bytes: Data, path: String) throws(DataError) -> [Entry] {
        func damaged(_ reason: String) -> DataError { .malformed(path: path, entry: nil, reason: "not a valid zip archive: " + reason) }
        // The end-of-central-directory record: 22 bytes plus a comment of at most 65 535.
        guard bytes.count >= 22 else { throw damaged("\(bytes.count) bytes is too short") }
        var eocd = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while eocd >= lowest && read32(bytes, eocd) != 0x0605_4B50 { eocd -= 1 }
        guard eocd >= lowest else { throw damaged("no end-of-central-directory record (truncated?)") }
        var count = Int(read16(bytes, eocd + 10))
        var directorySize = Int(read32(bytes, eocd + 12))
        var directoryOffset = Int(read32(bytes, eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            let locator = eocd - 20
            guard locator >= 0, read32(bytes, locator) == 0x0706_4B50 else { throw damaged("no Zip64 locator") }
            let record = Int(clamping: read64(bytes, locator + 8))
            guard record >= 0, record + 56 <= bytes.count, read32(bytes, record) == 0x0606_4B50 else {
                throw damaged("no Zip64 end-of-central-directory record")
            }
            count = Int(clamping: read64(bytes, record + 32))
            directorySize = Int(clamping: read64(bytes, record + 40))
            directoryOffset = Int(clamping: read64(bytes, record + 48))
        }
        guard directoryOffset >= 0, directorySize >= 0, directoryOffset + directorySize <= eocd else {
            throw damaged("the central directory (\(directorySize) bytes at \(directoryOffset)) lies outside the file")
        }
        var entries: [Entry] = []
        var p = directoryOffset
        for i in 0..<count {
            guard p + 46 <= directoryOffset + directorySize, read32(bytes, p) == 0x0201_4B50 else {
                throw damaged("central directory entry \(i + 1) of \(count) is damaged")
            }
            let nameLength = Int(read16(bytes, p + 28)), extraLength = Int(read16(bytes, p + 30))
            let commentLength = Int(read16(bytes, p + 32))
            let end = p + 46 + nameLength + extraLength + commentLength
            guard end <= directoryOffset + directorySize else { throw damaged("central directory entry \(i + 1) is cut short") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            var compressed = UInt64(read32(bytes, p + 20)), size = UInt64(read32(bytes, p + 24))
            var offset = UInt64(read32(bytes, p + 42))
            // Zip64 extra field (0x0001): the 8-byte values of the fields set to 0xFFFFFFFF, in this order.
            var q = p + 46 + nameLength
            while q + 4 <= p + 46 + nameLength + extraLength {
                let id = read16(bytes, q), length = Int(read16(bytes, q + 2))
                if id == 1 {
                    var f = q + 4
                    func next(_ value: inout UInt64) {
                        if value == 0xFFFF_FFFF && f + 8 <= q + 4 + length { value = read64(bytes, f); f += 8 }
                    }
                    next(&size); next(&compressed); next(&offset)
                }
                q += 4 + length
            }
            guard let c = Int(exactly: compressed), let s = Int(exactly: size), let o = Int(exactly: offset),
                  c <= bytes.count else {
                throw damaged("entry '\(name)' announces impossible sizes")
            }
            entries.append(Entry(name: name, method: read16(bytes, p + 10), flags: read16(bytes, p + 8),
                                 crc: read32(bytes, p + 16), compressedSize: c, size: s, localHeaderOffset: o))
            p = end
        }
        return entries
    }
}

/// The little-endian UInt16 at `offset`; 0 when it would run past the end.
func read16(_ bytes: Data, _ offset: Int) -> UInt16 {
    guard offset >= 0, offset + 2 <= bytes.count else { return 0 }
    let i = bytes.startIndex + offset
    return UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8
}

/// The little-endian UInt32 at `offset`; 0 when it would run past the end.
func read32(_ bytes: Data, _ offset: Int) -> UInt32 {
    guard offset >= 0, offset + 4 <= bytes.count else { return 0 }
    return UInt32(read16(bytes, offset)) | UInt32(read16(bytes, offset + 2)) << 16
}

/// The little-endian UInt64 at `offset`; 0 when it would run past the end.
func read64(_ bytes: Data, _ offset: Int) -> UInt64 {
    guard offset >= 0, offset + 8 <= bytes.count else { return 0 }
    return UInt64(read32(bytes, offset)) | UInt64(read32(bytes, offset + 4)) << 32
}

/// The bytes of the file at `path`, memory-mapped; a missing file or a directory is named.
func mapFile(_ path: String) throws(DataError) -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: path) }
    if isDirectory.boolValue { throw .unreadable(path: path, reason: "it is a directory") }
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    } catch {
        throw .unreadable(path: path, reason: error.localizedDescription)
    }
}
