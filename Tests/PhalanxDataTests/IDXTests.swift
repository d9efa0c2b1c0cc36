// IDX reading: a good file round-trips; every malformed file gives its own error,
// naming the file; the real Fashion-MNIST loads when installed.
import Foundation
import PhalanxCore
@testable import PhalanxData
import Testing

@Suite struct IDXTests {
    let dir = ScratchDirectory()

    /// Writes raw `bytes` gzip-compressed to `name` and returns the path.
    func gz(_ name: String, _ bytes: [UInt8]) -> String {
        let path = dir.file(name)
        try! Gzip.write(bytes, to: path)
        return path
    }

    /// Expects `body` to throw `expected`, whose message must name `path`.
    func expectError(_ expected: DataError, path: String, sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
        let error = #expect(throws: DataError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error == expected, sourceLocation: sourceLocation)
        #expect(error?.description.contains(path) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    @Test func imagesAndLabelsRoundTrip() throws {
        defer { dir.cleanUp() }
        let pixels = (0..<(3 * 4 * 5)).map { UInt8(($0 * 37) % 256) }
        try IDX.write(pixels, dimensions: [3, 4, 5], to: dir.file("img.gz"))
        try IDX.write([2, 0, 1], dimensions: [3], to: dir.file("lab"), compressed: false)
        let images = try IDX.readImages(dir.file("img.gz"))
        #expect(images.shape == [3, 1, 4, 5])
        #expect(images.scalars == pixels.map(Float.init))
        // The plain file goes through the same gzopen path.
        #expect(try IDX.readLabels(dir.file("lab")) == [2, 0, 1])
        let data = try Dataset.load(images: dir.file("img.gz"), labels: dir.file("lab"))
        #expect(data.count == 3 && data.classCount == 3 && data.sampleShape == [1, 4, 5])
    }

    @Test func missingFile() {
        defer { dir.cleanUp() }
        let path = dir.file("absent.gz")
        expectError(.fileNotFound(path: path), path: path) { _ = try IDX.readImages(path) }
    }

    @Test func directoryIsUnreadable() {
        defer { dir.cleanUp() }
        let error = #expect(throws: DataError.self) { _ = try IDX.readLabels(dir.path) }
        #expect(error == .unreadable(path: dir.path, reason: "it is a directory"))
    }

    @Test func labelsFileGivenAsImagesIsWrongMagic() {
        defer { dir.cleanUp() }
        let path = gz("labels.gz", idxHeader(magic: 0x801, [2]) + [0, 1])
        expectError(.wrongMagic(path: path, expected: 0x803, found: 0x801), path: path) { _ = try IDX.readImages(path) }
        let error = #expect(throws: DataError.self) { _ = try IDX.readImages(path) }
        #expect(error?.description.contains("expected 0x00000803") == true)
    }

    @Test func notAnIDXFileIsWrongMagic() {
        defer { dir.cleanUp() }
        let path = gz("zip.gz", Array("PK\u{3}\u{4}rest of a zip".utf8))
        expectError(.wrongMagic(path: path, expected: 0x801, found: 0x504B_0304), path: path) {
            _ = try IDX.readLabels(path)
        }
    }

    @Test func floatElementsAreUnsupported() {
        defer { dir.cleanUp() }
        let path = gz("float.gz", idxHeader(magic: 0x0D03, [1, 1, 1]) + [0, 0, 0, 0])
        expectError(.unsupportedElementType(path: path, typeCode: 0x0D), path: path) { _ = try IDX.readImages(path) }
        let error = #expect(throws: DataError.self) { _ = try IDX.readImages(path) }
        #expect(error?.description.contains("float32") == true)
    }

    @Test(arguments: [
        ([0, 28, 28] as [UInt32], "extent 1 is zero"),
        ([100_000, 1000, 1000], "elements exceed the limit"),
        ([0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], "overflows"),
    ])
    func impossibleDimensions(dims: [UInt32], reason: String) {
        defer { dir.cleanUp() }
        let path = gz("dims.gz", idxHeader(magic: 0x803, dims))
        let error = #expect(throws: DataError.self) { _ = try IDX.readImages(path) }
        guard case .impossibleDimensions(let p, let d, let r)? = error else {
            Issue.record("expected impossibleDimensions, got \(String(describing: error))")
            return
        }
        #expect(p == path && d == dims.map(Int.init) && r.contains(reason))
        #expect(error!.description.contains(path))
    }

    @Test func truncatedHeader() {
        defer { dir.cleanUp() }
        let path = gz("head.gz", [0, 0, 8, 3, 0, 0])
        expectError(.truncated(path: path, part: "header", expectedBytes: 16, foundBytes: 6), path: path) {
            _ = try IDX.readImages(path)
        }
    }

    @Test func truncatedPixels() {
        defer { dir.cleanUp() }
        let path = gz("short.gz", idxHeader(magic: 0x803, [3, 4, 4]) + [UInt8](repeating: 7, count: 40))
        expectError(.truncated(path: path, part: "pixel data after the 16-byte header", expectedBytes: 48, foundBytes: 40),
                    path: path) { _ = try IDX.readImages(path) }
    }

    @Test func gzipStreamCutShort() throws {
        defer { dir.cleanUp() }
        var state = UInt64(1)
        let noise = (0..<20_000).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1; return UInt8(state >> 56) }
        let path = dir.file("cut.gz")
        try IDX.write(noise, dimensions: [20_000], to: path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.removeLast(bytes.count / 2)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DataError.self) { _ = try IDX.readLabels(path) }
        guard case .truncated(let p, let part, 20_000, let found)? = error else {
            Issue.record("expected truncated labels, got \(String(describing: error))")
            return
        }
        #expect(p == path && part.contains("cut short") && found > 0 && found < 20_000)
    }

    @Test func trailingBytes() {
        defer { dir.cleanUp() }
        let path = gz("long.gz", idxHeader(magic: 0x801, [3]) + [0, 1, 2, 9, 9, 9, 9, 9])
        expectError(.trailingBytes(path: path, count: 5), path: path) { _ = try IDX.readLabels(path) }
    }

    @Test func damagedGzipIsUnreadable() throws {
        defer { dir.cleanUp() }
        let path = dir.file("bad.gz")
        // A gzip header followed by bytes that are not a deflate stream.
        try Data([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DataError.self) { _ = try IDX.readLabels(path) }
        guard case .unreadable(let p, _)? = error else {
            Issue.record("expected unreadable, got \(String(describing: error))")
            return
        }
        #expect(p == path)
    }

    @Test func labelOutOfRange() {
        defer { dir.cleanUp() }
        let path = gz("labels.gz", idxHeader(magic: 0x801, [4]) + [0, 2, 3, 1])
        expectError(.labelOutOfRange(path: path, index: 2, label: 3, classCount: 3), path: path) {
            _ = try IDX.readLabels(path, classCount: 3)
        }
    }

    @Test func countMismatchNamesBothFiles() throws {
        defer { dir.cleanUp() }
        let images = gz("i.gz", idxHeader(magic: 0x803, [3, 2, 2]) + [UInt8](repeating: 1, count: 12))
        let labels = gz("l.gz", idxHeader(magic: 0x801, [4]) + [0, 1, 0, 1])
        let error = #expect(throws: DataError.self) { _ = try Dataset.load(images: images, labels: labels) }
        #expect(error == .countMismatch(imagesPath: images, images: 3, labelsPath: labels, labels: 4))
        #expect(error?.description.contains(images) == true && error?.description.contains(labels) == true)
    }

    static let realDirectory = Dataset.fashionMNISTDirectory
    static let realPresent = FileManager.default.fileExists(atPath: realDirectory + "/train-images-idx3-ubyte.gz")

    @Test(.enabled(if: realPresent, "Fashion-MNIST is not installed at \(realDirectory) (apt install dataset-fashion-mnist)"))
    func realFashionMNIST() throws {
        defer { dir.cleanUp() }
        let clock = ContinuousClock()
        let start = clock.now
        let (train, test) = try Dataset.fashionMNIST()
        print("Fashion-MNIST train + test loaded in \(clock.now - start)")
        #expect(train.count == 60_000 && test.count == 10_000)
        #expect(train.sampleShape == [1, 28, 28] && train.classCount == 10)
        var perClass = [Int](repeating: 0, count: 10)
        for l in train.labels { perClass[Int(l)] += 1 }
        #expect(perClass == [Int](repeating: 6000, count: 10))
        #expect(test.labels.allSatisfy { (0..<10).contains($0) })
        let pixels = train.images.buffer
        #expect(pixels.min() == 0 && pixels.max() == 255)
    }
}
