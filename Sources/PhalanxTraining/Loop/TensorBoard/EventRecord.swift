// TensorBoard's event file format, encoded by hand: TFRecord frames holding `Event`
// protocol buffers.
//
// A frame is: uint64 length (little-endian), masked CRC-32C of those 8 bytes, the data,
// masked CRC-32C of the data. The messages and the only fields written
// (tensorboard/compat/proto/event.proto and summary.proto, numbers checked against
// TensorBoard 2.21's descriptors):
//
//     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//     Summary { repeated Value value = 1; }
//     Value   { string tag = 1; float simple_value = 2; Image image = 4; HistogramProto histo = 5; }
//     Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
//     HistogramProto { double min = 1; double max = 2; double num = 3; double sum = 4;
//                      double sum_squares = 5; repeated double bucket_limit = 6 [packed];
//                      repeated double bucket = 7 [packed]; }
//
// Why not swift-protobuf: these ten fields need four wire encodings (varint, 64-bit,
// 32-bit, length-delimited) — some 60 lines, `ProtobufWriter` (Export/ProtobufWriter.swift,
// shared with ONNX export) — while swift-protobuf would add a
// package dependency, its code generator (slow to build) and generated files for
// event.proto, summary.proto and everything they import (tensor, histogram, graph…).
// Left out: tensors, audio, graphs, summary metadata (plugins).

/// An image for an event file: PNG bytes and what the `Image` message says of them.
public struct EventImage: Equatable, Sendable {
    public var tag: String
    public var png: [UInt8]
    public var width: Int
    public var height: Int
    /// 1 greyscale, 2 greyscale + alpha, 3 RGB, 4 RGBA (TensorBoard's numbering).
    public var colorspace: Int
}

/// `Event` messages as TensorBoard reads them.
enum EventMessage {
    /// TensorBoard reads files whose first event says this.
    static let fileVersion = "brain.Event:2"

    /// The first event of every file.
    static func header(wallTime: Double) -> [UInt8] {
        var w = ProtobufWriter()
        w.double(1, wallTime)
        w.string(3, fileVersion)
        return w.bytes
    }

    /// One event whose summary holds a `simple_value` for each tag.
    static func scalars(_ values: [(tag: String, value: Double)], step: Int, wallTime: Double) -> [UInt8] {
        event(step: step, wallTime: wallTime) { summary in
            for (tag, value) in values {
                summary.message(1) { v in v.string(1, tag); v.float(2, Float(value)) }
            }
        }
    }

    /// One event whose summary holds an image.
    static func image(_ image: EventImage, step: Int, wallTime: Double) -> [UInt8] {
        event(step: step, wallTime: wallTime) { summary in
            summary.message(1) { v in
                v.string(1, image.tag)
                v.message(4) { i in
                    i.int(1, Int64(image.height))
                    i.int(2, Int64(image.width))
                    i.int(3, Int64(image.colorspace))
                    i.bytes(4, image.png)
                }
            }
        }
    }

    /// One event whose summary holds a histogram under `tag`.
    static func histogram(_ h: Histogram, tag: String, step: Int, wallTime: Double) -> [UInt8] {
        event(step: step, wallTime: wallTime) { summary in
            summary.message(1) { v in
                v.string(1, tag)
                v.message(5) { p in
                    p.double(1, h.min)
                    p.double(2, h.max)
                    p.double(3, Double(h.count))
                    p.double(4, h.sum)
                    p.double(5, h.sumOfSquares)
                    p.packedDoubles(6, h.bucketLimits)
                    p.packedDoubles(7, h.buckets)
                }
            }
        }
    }

    private static func event(step: Int, wallTime: Double, summary: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var w = ProtobufWriter()
        w.double(1, wallTime)
        w.int(2, Int64(step))
        w.message(5, summary)
        return w.bytes
    }

    /// The `step` of an encoded event (0 when absent, as proto3 reads it); nil when the
    /// bytes are not a well-formed message.
    static func step(of event: ArraySlice<UInt8>) -> Int? {
        guard let fields = ProtobufReader.fields(event) else { return nil }
        var step = 0
        for (number, value) in fields where number == 2 {
            if case .varint(let v) = value { step = Int(truncatingIfNeeded: Int64(bitPattern: v)) }
        }
        return step
    }
}

/// TFRecord framing: length, masked CRC-32C of the length, data, masked CRC-32C of the data.
enum TFRecord {
    static func frame(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(data.count + 16)
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { out.append(contentsOf: $0) }
        append32(CRC32C.masked(CRC32C.checksum(out[0..<8])), to: &out)
        out += data
        append32(CRC32C.masked(CRC32C.checksum(data)), to: &out)
        return out
    }

    /// The well-formed frames at the start of `bytes` (each frame's range and its data's);
    /// reading stops at the first frame that is cut short or fails a CRC.
    static func frames(in bytes: [UInt8]) -> [(frame: Range<Int>, data: Range<Int>)] {
        var out: [(Range<Int>, Range<Int>)] = [], at = 0
        while bytes.count - at >= 16 {
            let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
            guard read32(bytes, at + 8) == CRC32C.masked(CRC32C.checksum(bytes[at..<(at + 8)])),
                  length <= UInt64(bytes.count - at - 16) else { break }
            let data = (at + 12)..<(at + 12 + Int(length))
            guard read32(bytes, data.upperBound) == CRC32C.masked(CRC32C.checksum(bytes[data])) else { break }
            out.append((at..<(data.upperBound + 4), data))
            at = data.upperBound + 4
        }
        return out
    }

    private static func append32(_ v: UInt32, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func read32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }
}
