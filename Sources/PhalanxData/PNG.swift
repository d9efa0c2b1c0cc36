// PNG images for people to look at (sample grids of autoencoders and generators): the
// chunk framing written here, the compression by zlib. 8-bit greyscale, no interlace,
// filter 0 on every row. Left out: colour, other bit depths, reading.
import CZlib
import Foundation

/// Writes 8-bit greyscale PNG files.
public enum PNG {
    /// Encodes `pixels` (row-major, `width × height`, 0 black … 255 white) as a PNG file.
    public static func grayscale(_ pixels: [UInt8], width: Int, height: Int) throws(DataError) -> [UInt8] {
        guard width > 0, height > 0, pixels.count == width * height else {
            throw .invalidSetting(setting: "png", reason: "\(pixels.count) pixels for \(width)×\(height)")
        }
        var raw = [UInt8]()
        raw.reserveCapacity((width + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter type 0 (none)
            raw.append(contentsOf: pixels[(y * width)..<((y + 1) * width)])
        }
        var size = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(size))
        let rc = compressed.withUnsafeMutableBufferPointer { out in
            raw.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &size, input.baseAddress, uLong(input.count), 6)
            }
        }
        guard rc == Z_OK else { throw .invalidSetting(setting: "png", reason: "zlib compress2 failed (\(rc))") }
        compressed.removeSubrange(Int(size)...)
        var header = [UInt8]()
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 0, 0, 0, 0]  // bit depth 8, greyscale, deflate, filter 0, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
    }

    /// Writes a greyscale PNG file.
    public static func writeGrayscale(_ pixels: [UInt8], width: Int, height: Int, to path: String) throws(DataError) {
        let bytes = try grayscale(pixels, width: width, height: height)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw .invalidSetting(setting: "png", reason: "cannot write \(path)")
        }
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        let crc = typed.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return bigEndian(UInt32(data.count)) + typed + bigEndian(crc)
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
