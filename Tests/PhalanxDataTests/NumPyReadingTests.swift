// Reading .npy files and .npz archives: good arrays of every accepted type come back with
// their values; every malformed file is its own error naming the file (and entry).
import CZlib
import Foundation
import PhalanxCore
@testable import PhalanxData
import Testing

/// The bytes of a .npy file with header dict `dict` (version 1.0, padded as NumPy pads).
func npyBytes(dict: String, payload: [UInt8]) -> [UInt8] {
    var header = dict
    header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
    let n = header.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8) + payload
}

/// The bytes of a .npy array of `descr` and `shape`.
func npyBytes(_ descr: String, _ shape: [Int], payload: [UInt8]) -> [UInt8] {
    let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    return npyBytes(dict: "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }", payload: payload)
}

/// A zip archive of `entries` as numpy.savez (stored) or savez_compressed (deflated) writes it.
func zipBytes(_ entries: [(name: String, bytes: [UInt8])], deflate: Bool) -> [UInt8] {
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16(v >> 16) }
    var out: [UInt8] = [], directory: [UInt8] = []
    for e in entries {
        let crc = e.bytes.withUnsafeBufferPointer { Int(crc32(0, $0.baseAddress, uInt($0.count))) }
        var body = e.bytes
        if deflate {
            var size = compressBound(uLong(e.bytes.count))
            var z = [UInt8](repeating: 0, count: Int(size))
            _ = z.withUnsafeMutableBufferPointer { o in e.bytes.withUnsafeBufferPointer { compress2(o.baseAddress, &size, $0.baseAddress, uLong($0.count), 6) } }
            body = Array(z[2..<(Int(size) - 4)])  // raw deflate: without zlib's header and Adler-32
        }
        let name = Array(e.name.utf8)
        let common = le16(20) + le16(0) + le16(deflate ? 8 : 0) + le16(0) + le16(0) + le32(crc) + le32(body.count)
            + le32(e.bytes.count) + le16(name.count) + le16(0)
        directory += le32(0x0201_4B50) + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(out.count) + name
        out += le32(0x0403_4B50) + common + name + body
    }
    let offset = out.count
    out += directory
    out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count) + le32(directory.count)
        + le32(offset) + le16(0)
    return out
}

@Suite struct NumPyReadingTests {
    let dir = ScratchDirectory()

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = dir.file(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// Expects `body` to throw a DataError that matches `expected` and names `path` (and `also`).
    func expectError(_ expected: DataError?, naming path: String, _ also: [String] = [],
                     sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        let error = #expect(throws: DataError.self, sourceLocation: sourceLocation) { try body() }
        if let expected { #expect(error == expected, sourceLocation: sourceLocation) }
        for text in [path] + also {
            #expect(error?.description.contains(text) == true, "\(String(describing: error)) lacks \(text)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func uint8ImagesAndInt64LabelsLoadLikeIDX() throws {
        defer { dir.cleanUp() }
        let pixels = (0..<(3 * 4 * 5)).map { UInt8(($0 * 37) % 256) }
        let images = write("x.npy", npyBytes("|u1", [3, 4, 5], payload: pixels))
        let labels = write("y.npy", npyBytes("<i8", [3], payload: [2, 0, 1].flatMap { [UInt8($0)] + [UInt8](repeating: 0, count: 7) }))
        let data = try Dataset.load(images: NumPySource(path: images), labels: NumPySource(path: labels))
        #expect(data.images.shape == [3, 1, 4, 5] && data.images.scalars == pixels.map(Float.init))
        #expect(data.labels == [2, 0, 1] && data.classCount == 3)
        // The writer's own float32 files, [N, C, H, W], come back unchanged.
        let t = Tensor(shape: [2, 3, 2, 2])
        for i in 0..<t.count { t[i] = Float(i) * 0.25 - 1 }
        try NumPy.write(t, to: dir.file("f.npy"))
        #expect(try NumPy.readImages(NumPySource(path: dir.file("f.npy"))).scalars == t.scalars)
        try NumPy.write([1, 0], shape: [2], to: dir.file("l.npy"))
        #expect(try NumPy.readLabels(NumPySource(path: dir.file("l.npy"))) == [1, 0])
    }

    @Test(arguments: [false, true]) func npzArchivesStoredAndDeflated(deflate: Bool) throws {
        defer { dir.cleanUp() }
        let pixels = (0..<(4 * 2 * 3)).map { UInt8($0 * 9) }
        let path = write("d.npz", zipBytes([("x_train.npy", npyBytes("|u1", [4, 2, 3], payload: pixels)),
                                            ("y_train.npy", npyBytes("|u1", [4], payload: [0, 1, 1, 0]))], deflate: deflate))
        let data = try Dataset.load(images: NumPySource(path: path, entry: "x_train"),
                                    labels: NumPySource(path: path, entry: "y_train.npy"))
        #expect(data.images.scalars == pixels.map(Float.init) && data.labels == [0, 1, 1, 0])
    }

    @Test func truncatedNpy() {
        defer { dir.cleanUp() }
        let full = npyBytes("|u1", [2, 3, 3], payload: [UInt8](repeating: 7, count: 18))
        let headerBytes = full.count - 18  // 128: NumPy pads the header to a multiple of 64
        let path = write("cut.npy", Array(full.dropLast(5)))
        expectError(.truncated(path: path, part: "array data after the \(headerBytes)-byte header", expectedBytes: 18, foundBytes: 13),
                    naming: path) { _ = try NumPy.readImages(NumPySource(path: path)) }
        let header = write("cuthead.npy", Array(full.prefix(30)))
        expectError(.truncated(path: header, part: "header", expectedBytes: headerBytes, foundBytes: 30), naming: header) {
            _ = try NumPy.readImages(NumPySource(path: header))
        }
        let extra = write("extra.npy", full + [1, 2])
        expectError(.trailingBytes(path: extra, count: 2), naming: extra) { _ = try NumPy.readImages(NumPySource(path: extra)) }
    }

    @Test func badNpyHeader() {
        defer { dir.cleanUp() }
        let notNpy = write("text.npy", Array("hello, this is not an array".utf8))
        expectError(.malformed(path: notNpy, entry: nil, reason: "not a .npy file (no \\x93NUMPY magic)"), naming: notNpy) {
            _ = try NumPy.readImages(NumPySource(path: notNpy))
        }
        let noShape = write("noshape.npy", npyBytes(dict: "{'descr': '|u1', 'fortran_order': False, }", payload: []))
        expectError(nil, naming: noShape, ["no 'shape'"]) { _ = try NumPy.readImages(NumPySource(path: noShape)) }
        let garbled = write("garbled.npy", npyBytes(dict: "{'descr': '|u1', 'fortran_order': False, 'shape': (2, x), }", payload: []))
        expectError(nil, naming: garbled, ["not a dict literal"]) { _ = try NumPy.readImages(NumPySource(path: garbled)) }
        let fortran = write("f.npy", npyBytes(dict: "{'descr': '|u1', 'fortran_order': True, 'shape': (1, 1, 1), }", payload: [0]))
        expectError(nil, naming: fortran, ["Fortran order"]) { _ = try NumPy.readImages(NumPySource(path: fortran)) }
    }

    @Test func wrongDType() {
        defer { dir.cleanUp() }
        let doubles = write("f8.npy", npyBytes("<f8", [1, 1, 2], payload: [UInt8](repeating: 0, count: 16)))
        expectError(.wrongDType(path: doubles, entry: nil, found: "<f8", accepted: NumPy.imageTypes), naming: doubles, ["<f8"]) {
            _ = try NumPy.readImages(NumPySource(path: doubles))
        }
        let bigEndian = write("be.npy", npyBytes(">f4", [1, 1, 1], payload: [0, 0, 0, 0]))
        expectError(nil, naming: bigEndian, [">f4"]) { _ = try NumPy.readImages(NumPySource(path: bigEndian)) }
        let floatLabels = write("fl.npy", npyBytes("<f4", [1], payload: [0, 0, 0, 0]))
        expectError(.wrongDType(path: floatLabels, entry: nil, found: "<f4", accepted: NumPy.labelTypes), naming: floatLabels) {
            _ = try NumPy.readLabels(NumPySource(path: floatLabels))
        }
        let negative = write("neg.npy", npyBytes("|i1", [2], payload: [0, 0xFF]))
        expectError(.badLabel(path: negative, position: "index 1", value: "-1"), naming: negative) {
            _ = try NumPy.readLabels(NumPySource(path: negative))
        }
    }

    @Test func nonFiniteFloatImages() throws {
        defer { dir.cleanUp() }
        let t = Tensor(shape: [1, 1, 1, 3])
        t[1] = .nan
        try NumPy.write(t, to: dir.file("nan.npy"))
        expectError(.malformed(path: dir.file("nan.npy"), entry: nil, reason: "element 1 is nan; images must be finite"),
                    naming: dir.file("nan.npy")) { _ = try NumPy.readImages(NumPySource(path: dir.file("nan.npy"))) }
    }

    @Test func wrongShape() {
        defer { dir.cleanUp() }
        let flat = write("flat.npy", npyBytes("|u1", [6, 4], payload: [UInt8](repeating: 0, count: 24)))
        expectError(.wrongShape(path: flat, entry: nil, found: [6, 4], expected: "[N, H, W] or [N, C, H, W] images with no empty extent"),
                    naming: flat, ["(6, 4)"]) { _ = try NumPy.readImages(NumPySource(path: flat)) }
        let labels2D = write("y2.npy", npyBytes("|u1", [3, 1], payload: [0, 1, 2]))
        expectError(nil, naming: labels2D, ["(3, 1)", "[N] labels"]) { _ = try NumPy.readLabels(NumPySource(path: labels2D)) }
    }

    @Test func labelsCountMismatch() {
        defer { dir.cleanUp() }
        let images = write("x.npy", npyBytes("|u1", [3, 2, 2], payload: [UInt8](repeating: 1, count: 12)))
        let labels = write("y.npy", npyBytes("|u1", [2], payload: [0, 1]))
        expectError(.countMismatch(imagesPath: images, images: 3, labelsPath: labels, labels: 2), naming: labels, [images]) {
            _ = try Dataset.load(images: NumPySource(path: images), labels: NumPySource(path: labels))
        }
        // Test labels beyond the training classes name the entry.
        let archive = write("t.npz", zipBytes([("y_test.npy", npyBytes("|u1", [2], payload: [0, 5]))], deflate: false))
        expectError(.labelOutOfRange(path: "\(archive), entry 'y_test'", index: 1, label: 5, classCount: 3), naming: archive) {
            _ = try NumPy.readLabels(NumPySource(path: archive, entry: "y_test"), classCount: 3)
        }
    }

    @Test func npzMissingKey() {
        defer { dir.cleanUp() }
        let path = write("d.npz", zipBytes([("images.npy", npyBytes("|u1", [1, 1, 1], payload: [0])),
                                            ("labels.npy", npyBytes("|u1", [1], payload: [0]))], deflate: false))
        expectError(.missingEntry(path: path, entry: "x_train", available: ["images", "labels"]), naming: path, ["'x_train'"]) {
            _ = try NumPy.readImages(NumPySource(path: path, entry: "x_train"))
        }
    }

    @Test func damagedNpz() {
        defer { dir.cleanUp() }
        let good = zipBytes([("x.npy", npyBytes("|u1", [2, 2, 2], payload: [UInt8](repeating: 3, count: 8)))], deflate: true)
        let cut = write("cut.npz", Array(good.prefix(good.count - 30)))
        expectError(nil, naming: cut, ["not a valid zip archive"]) { _ = try NumPy.readImages(NumPySource(path: cut, entry: "x")) }
        // A flipped byte inside the compressed data: zlib or the CRC-32 notices.
        var flipped = good
        flipped[40] ^= 0x55
        let bad = write("bad.npz", flipped)
        expectError(nil, naming: bad, ["entry 'x.npy'"]) { _ = try NumPy.readImages(NumPySource(path: bad, entry: "x")) }
        let inner = zipBytes([("x.npy", Array(npyBytes("|u1", [2, 2, 2], payload: [UInt8](repeating: 3, count: 8)).dropLast(3)))],
                             deflate: false)
        let short = write("short.npz", inner)
        expectError(nil, naming: short, ["entry 'x'", "truncated"]) { _ = try NumPy.readImages(NumPySource(path: short, entry: "x")) }
    }

    @Test func missingFile() {
        defer { dir.cleanUp() }
        let path = dir.file("absent.npy")
        expectError(.fileNotFound(path: path), naming: path) { _ = try NumPy.readImages(NumPySource(path: path)) }
    }
}
