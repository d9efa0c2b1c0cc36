// TensorBoard event files: CRC-32C and its mask against TensorBoard's own Python figures,
// the protobuf fields read back by a decoder written here, and training runs whose event
// files hold every number of metrics.jsonl at its step (fresh, resumed, with images).
import Foundation
import Testing
@testable import PhalanxTraining

/// A protobuf field as the wire gives it.
private enum Wire: Equatable {
    case varint(UInt64), fixed64(UInt64), fixed32(UInt32), bytes([UInt8])
}

/// The fields of one message, in order (a decoder of its own, not the one in the sources).
private func fields(_ bytes: [UInt8]) throws -> [(field: Int, value: Wire)] {
    struct Malformed: Error {}
    var out: [(Int, Wire)] = [], i = 0
    func varint() throws -> UInt64 {
        var v: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            guard i < bytes.count else { throw Malformed() }
            let b = bytes[i]; i += 1
            v |= UInt64(b & 0x7F) << UInt64(shift)
            if b & 0x80 == 0 { return v }
        }
        throw Malformed()
    }
    func little(_ n: Int) throws -> UInt64 {
        guard i + n <= bytes.count else { throw Malformed() }
        defer { i += n }
        return (0..<n).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << UInt64(8 * $1) }
    }
    while i < bytes.count {
        let key = try varint()
        switch key & 7 {
        case 0: out.append((Int(key >> 3), .varint(try varint())))
        case 1: out.append((Int(key >> 3), .fixed64(try little(8))))
        case 5: out.append((Int(key >> 3), .fixed32(UInt32(try little(4)))))
        case 2:
            let n = Int(try varint())
            guard i + n <= bytes.count else { throw Malformed() }
            out.append((Int(key >> 3), .bytes(Array(bytes[i..<(i + n)]))))
            i += n
        default: throw Malformed()
        }
    }
    return out
}

private func bytesOf(_ w: Wire?) -> [UInt8]? { if case .bytes(let b)? = w { b } else { nil } }
private func first(_ f: [(field: Int, value: Wire)], _ n: Int) -> Wire? { f.first { $0.field == n }?.value }

/// An event read back: step, file_version, scalars (tag, value) and images (tag, fields).
private struct ReadEvent {
    var step: Int64 = 0
    var wallTime = 0.0
    var fileVersion: String?
    var scalars: [(tag: String, value: Float)] = []
    var images: [(tag: String, height: Int, width: Int, colorspace: Int, png: [UInt8])] = []
    var histograms: [(tag: String, fields: [(field: Int, value: Wire)])] = []

    init(_ data: [UInt8]) throws {
        let f = try fields(data)
        if case .varint(let v)? = first(f, 2) { step = Int64(bitPattern: v) }
        if case .fixed64(let v)? = first(f, 1) { wallTime = Double(bitPattern: v) }
        if let v = bytesOf(first(f, 3)) { fileVersion = String(decoding: v, as: UTF8.self) }
        guard let summary = bytesOf(first(f, 5)) else { return }
        for case (1, .bytes(let value)) in try fields(summary) {
            let v = try fields(value)
            let tag = String(decoding: bytesOf(first(v, 1)) ?? [], as: UTF8.self)
            if case .fixed32(let bits)? = first(v, 2) { scalars.append((tag, Float(bitPattern: bits))) }
            if let image = bytesOf(first(v, 4)) {
                let i = try fields(image)
                func int(_ n: Int) -> Int { if case .varint(let x)? = first(i, n) { Int(x) } else { -1 } }
                images.append((tag, int(1), int(2), int(3), bytesOf(first(i, 4)) ?? []))
            }
            if let histo = bytesOf(first(v, 5)) { histograms.append((tag, try fields(histo))) }
        }
    }
}

/// Every record of an event file, its frame checked here: length, both masked CRCs.
private func readEvents(_ url: URL) throws -> [ReadEvent] {
    let bytes = [UInt8](try Data(contentsOf: url))
    var out: [ReadEvent] = [], at = 0
    func u32(_ i: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[i + $1]) << UInt32(8 * $1) } }
    while at < bytes.count {
        try #require(bytes.count - at >= 16, "a torn frame at byte \(at) of \(url.lastPathComponent)")
        let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << UInt64(8 * $1) })
        #expect(u32(at + 8) == CRC32C.masked(CRC32C.checksum(bytes[at..<(at + 8)])), "length CRC at byte \(at)")
        try #require(at + 16 + length <= bytes.count, "frame at byte \(at) runs past the end")
        let data = Array(bytes[(at + 12)..<(at + 12 + length)])
        #expect(u32(at + 12 + length) == CRC32C.masked(CRC32C.checksum(data)), "data CRC at byte \(at)")
        out.append(try ReadEvent(data))
        at += 16 + length
    }
    return out
}

/// metrics.jsonl's numbers as (tag, step, value), as the event file must hold them.
private func numbersOfMetrics(_ url: URL) throws -> [String] {
    let text = try String(contentsOf: url, encoding: .utf8)
    var out: [String] = []
    for line in text.split(separator: "\n") {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let split = try #require(object["split"] as? String), step = try #require(object["step"] as? Int)
        for (k, v) in object where !["step", "epoch", "time", "split"].contains(k) {
            let value = try #require(v as? Double, "\(k) is not a number")
            out.append("\(k == "lr" ? "lr" : "\(split)/\(k)")@\(step)=\(Float(value))")
        }
    }
    return out.sorted()
}

private func scalarsOfEvents(_ directory: URL) throws -> [String] {
    try TensorBoardLog.eventFiles(in: directory).flatMap { try readEvents($0) }
        .flatMap { e in e.scalars.map { "\($0.tag)@\(e.step)=\($0.value)" } }.sorted()
}

@Suite(.serialized) struct TensorBoardTests {
    @Test func crc32cOfKnownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// Figures from TensorBoard's own `masked_crc32c` (tensorflow_stub.pywrap_tensorflow).
    @Test func maskedCRCAndFrameAsTensorBoardWritesThem() {
        #expect(CRC32C.masked(CRC32C.checksum(Array("123456789".utf8))) == 0xC78A_B0E5)
        #expect(CRC32C.masked(CRC32C.checksum([UInt8](repeating: 0, count: 32))) == 0x0FD7_FFFA)
        #expect(TFRecord.frame(Array("abc".utf8)) == [3, 0, 0, 0, 0, 0, 0, 0, 0xB0, 0x99, 0x49, 0x0E,
                                                      0x61, 0x62, 0x63, 0x6E, 0x57, 0xF1, 0x21])
        // A frame cut short or with a flipped byte ends the well-formed part.
        let two = TFRecord.frame([1, 2, 3]) + TFRecord.frame([4, 5])
        #expect(TFRecord.frames(in: two).count == 2)
        #expect(TFRecord.frames(in: Array(two.dropLast())).count == 1)
        var flipped = two
        flipped[13] ^= 1
        #expect(TFRecord.frames(in: flipped).isEmpty)
    }

    @Test func fieldsRoundTripThroughAnIndependentDecoder() throws {
        var w = ProtobufWriter()
        w.varint(300)
        #expect(w.bytes == [0xAC, 0x02])
        let header = try ReadEvent(EventMessage.header(wallTime: 1_700_000_000.25))
        #expect(header.fileVersion == "brain.Event:2" && header.wallTime == 1_700_000_000.25 && header.step == 0)

        let big = 5_000_000_000
        let scalars = try ReadEvent(EventMessage.scalars([("train/loss", 0.125), ("lr", 3e-4)], step: big, wallTime: 2))
        #expect(scalars.step == Int64(big) && scalars.wallTime == 2)
        #expect(scalars.scalars.map(\.tag) == ["train/loss", "lr"] && scalars.scalars.map(\.value) == [0.125, Float(3e-4)])
        #expect(try ReadEvent(EventMessage.scalars([("x", 1)], step: -1, wallTime: 0)).step == -1)
        #expect(EventMessage.step(of: EventMessage.scalars([("x", 1)], step: big, wallTime: 0)[...]) == big)

        let png = [UInt8](repeating: 7, count: 300)  // long enough for a two-byte length
        let image = try ReadEvent(EventMessage.image(EventImage(tag: "samples", png: png, width: 30, height: 20, colorspace: 1),
                                                     step: 9, wallTime: 0))
        #expect(image.step == 9 && image.scalars.isEmpty && image.images.count == 1)
        let i = try #require(image.images.first)
        #expect(i.tag == "samples" && i.height == 20 && i.width == 30 && i.colorspace == 1 && i.png == png)
    }

    @Test func histogramsOfKnownValuesAndTheirFields() throws {
        let values: [Float] = [0, 1, 2, 3, 4, .nan]
        let h = try #require(values.withUnsafeBufferPointer { Histogram($0, bucketCount: 4) })
        #expect(h.min == 0 && h.max == 4 && h.count == 5 && h.sum == 10 && h.sumOfSquares == 30)
        // Bucket k holds (limit[k-1], limit[k]]; the first also its left edge, the minimum.
        #expect(h.bucketLimits == [1, 2, 3, 4] && h.buckets == [2, 1, 1, 1])
        let same: [Float] = [5, 5]
        let flat = try #require(same.withUnsafeBufferPointer { Histogram($0) })
        #expect(flat.bucketLimits == [5] && flat.buckets == [2])
        let none: [Float] = [.nan]
        #expect(none.withUnsafeBufferPointer { Histogram($0) } == nil)

        let event = try ReadEvent(EventMessage.histogram(h, tag: "weights/fc.weight", step: 7, wallTime: 1))
        let (tag, f) = try #require(event.histograms.first)
        #expect(event.step == 7 && tag == "weights/fc.weight")
        func double(_ n: Int) -> Double? { if case .fixed64(let bits)? = first(f, n) { Double(bitPattern: bits) } else { nil } }
        func packed(_ n: Int) -> [Double] {
            let b = bytesOf(first(f, n)) ?? []
            return stride(from: 0, to: b.count, by: 8).map { i in
                Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[i + $1]) << UInt64(8 * $1) })
            }
        }
        #expect(double(1) == 0 && double(2) == 4 && double(3) == 5 && double(4) == 10 && double(5) == 30)
        #expect(packed(6) == [1, 2, 3, 4] && packed(7) == [2, 1, 1, 1])
    }

    @Test func aClassifierRunAddsMisclassifiedExamplesAndHistograms() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        // A learning rate too small to learn anything in two epochs: mistakes every epoch.
        try Trainer(try ConfigLoader.load(yaml: data.config(name: "hist", extra: "logging: {histograms: true}"),
                                          overrides: ["train.optimizer.lr=0.00001"]), options: quiet()).run()
        let run = URL(fileURLWithPath: "\(data.directory)/runs/hist")
        let events = try TensorBoardLog.eventFiles(in: run.appendingPathComponent("tb")).flatMap { try readEvents($0) }
        let validation = try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).filter { $0.split == "validation" }
        let images = events.flatMap { e in e.images.map { (e.step, $0) } }
        #expect(images.map { Int($0.0) } == validation.map(\.step) && images.allSatisfy { $0.1.tag == "misclassified" })
        #expect(images.allSatisfy { $0.1.colorspace == 3 && $0.1.png.starts(with: [0x89, 0x50, 0x4E, 0x47]) })
        let histograms = events.flatMap { e in e.histograms.map { (e.step, $0.tag) } }
        // conv1, bn1 and fc: weight and bias each, and their gradients, once an epoch.
        let tags = Set(histograms.map(\.1))
        #expect(tags.count == 12 && tags.contains("weights/conv1.weight") && tags.contains("gradients/fc.bias"))
        #expect(histograms.count == 12 * validation.count)
    }

    @Test func aRunsEventFileHoldsEveryNumberOfMetricsJSONL() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        try Trainer(try ConfigLoader.load(yaml: data.config(name: "tb")), options: quiet()).run()
        let run = URL(fileURLWithPath: "\(data.directory)/runs/tb")
        let files = TensorBoardLog.eventFiles(in: run.appendingPathComponent("tb"))
        try #require(files.count == 1)
        #expect(files[0].lastPathComponent.hasPrefix("events.out.tfevents."))
        let events = try readEvents(files[0])
        #expect(events.first?.fileVersion == "brain.Event:2")
        #expect(events.dropFirst().allSatisfy { $0.fileVersion == nil && $0.wallTime > 1e9 })
        let expected = try numbersOfMetrics(run.appendingPathComponent("metrics.jsonl"))
        // 2 epochs × (train: loss, accuracy, lr, samples/s; validation: loss, accuracy) + test: loss, accuracy.
        #expect(expected.count == 14)
        #expect(try scalarsOfEvents(run.appendingPathComponent("tb")) == expected)
        #expect(events.flatMap(\.scalars).contains { $0.tag == "validation/accuracy" })
    }

    @Test func aResumedRunAddsAFileAndKeepsTheStepsOfMetricsJSONL() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(name: "tbresume"), overrides: ["train.epochs=3"])
        try Trainer(loaded, options: quiet(stopAfter: 2)).run()
        let tb = URL(fileURLWithPath: "\(data.directory)/runs/tbresume/tb")
        // What an interrupted run logged past its checkpoint (step 14): resume drops it, as metrics.jsonl's lines.
        let orphan = TensorBoardLog.eventFiles(in: tb)[0]
        let handle = try FileHandle(forWritingTo: orphan)
        handle.seekToEndOfFile()
        handle.write(Data(TFRecord.frame(EventMessage.scalars([("train/loss", 9)], step: 99, wallTime: 0))))
        handle.write(Data([1, 2, 3]))  // and a torn frame
        try handle.close()
        try Trainer(loaded, options: quiet(resume: true)).run()
        let files = TensorBoardLog.eventFiles(in: tb)
        #expect(files.count == 2)
        #expect(try files.map { try readEvents($0).first?.fileVersion } == ["brain.Event:2", "brain.Event:2"])
        let expected = try numbersOfMetrics(URL(fileURLWithPath: "\(data.directory)/runs/tbresume/metrics.jsonl"))
        #expect(expected.count == 3 * 6 + 2 * 2)  // a test record at the end of each part
        #expect(try scalarsOfEvents(tb) == expected)
    }

    @Test func autoencoderSampleGridsBecomeImages() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let yaml = AutoencoderTests().config(data, name: "tbae")
        let loaded = try ConfigLoader.load(yaml: yaml, overrides: ["train.epochs=2"])
        _ = try TaskRegistry.kind(of: loaded).train(loaded, options: quiet())
        let run = "\(data.directory)/runs/tbae"
        let events = try TensorBoardLog.eventFiles(in: URL(fileURLWithPath: "\(run)/tb")).flatMap { try readEvents($0) }
        let images = events.flatMap { e in e.images.map { (e.step, $0) } }
        try #require(images.count == 2)
        let grid = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(run)/samples/epoch-002.png")))
        #expect(images[1].1.tag == "reconstructions" && images[1].1.png == grid && images[1].1.colorspace == 1)
        // Two rows (originals, reconstructions) of eight 8×8 images with 2-pixel gaps.
        #expect(images[1].1.width == 8 * 10 + 2 && images[1].1.height == 2 * 10 + 2)
        // At the steps of the epochs' validation records.
        let validation = try MetricsLog.read(URL(fileURLWithPath: "\(run)/metrics.jsonl")).filter { $0.split == "validation" }
        #expect(images.map { Int($0.0) } == validation.map(\.step))
        #expect(try scalarsOfEvents(URL(fileURLWithPath: "\(run)/tb")) == numbersOfMetrics(URL(fileURLWithPath: "\(run)/metrics.jsonl")))
    }

    @Test func configTurnsItOffAndNamesUnknownKeys() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(name: "notb"), overrides: ["logging.tensorboard=false", "train.epochs=1"])
        #expect(loaded.config.logging.tensorboard == false)
        #expect(try ConfigLoader.load(yaml: data.config()).config.logging.tensorboard)
        try Trainer(loaded, options: quiet()).run()
        #expect(!FileManager.default.fileExists(atPath: "\(data.directory)/runs/notb/tb"))
        #expect(FileManager.default.fileExists(atPath: "\(data.directory)/runs/notb/metrics.jsonl"))
        #expect {
            try ConfigLoader.load(yaml: data.config(extra: "logging:\n  tensorbord: true"))
        } throws: { ($0 as? ConfigError)?.key == "logging.tensorbord" && ($0 as? ConfigError)?.line != nil }
    }

    @Test func aDirectoryThatCannotBeWrittenIsAnErrorNamingIt() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let blocked = URL(fileURLWithPath: "\(data.directory)/tb")
        try Data().write(to: blocked)  // a file where the directory should be
        #expect {
            try TensorBoardLog(directory: blocked)
        } throws: { ($0 as? CheckpointError)?.file == blocked.path }
    }
}
