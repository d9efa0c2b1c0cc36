// PNG images for people to look at (sample grids of autoencoders and generators, the plots
// of `phalanx analyze`): the chunk framing written here, the compression by zlib. 8-bit
// greyscale (colour type 0) or 8-bit RGB (colour type 2), no interlace, filter 0 on every
// row. Left out: palettes, alpha, other bit depths, reading.
import CZlib
import Foundation

/// Writes 8-bit greyscale and 8-bit RGB PNG files.
public enum PNG {
    /// Encodes `pixels` (row-major, `width × height`, 0 black … 255 white) as a PNG file.
    public static func grayscale(_ pixels: [UInt8], width: Int, height: Int) throws(DataError) -> [UInt8] {
        try encode(pixels, width: width, height: height, channels: 1, colourType: 0)
    }

    /// Encodes `pixels` (row-major, `width × height` pixels of three bytes R, G, B) as a PNG file.
    public static func rgb(_ pixels: [UInt8], width: Int, height: Int) throws(DataError) -> [UInt8] {
        try encode(pixels, width: width, height: height, channels: 3, colourType: 2)
    }

    /// Writes a greyscale PNG file.
    public static func writeGrayscale(_ pixels: [UInt8], width: Int, height: Int, to path: String) throws(DataError) {
        try write(grayscale(pixels, width: width, height: height), to: path)
    }

    /// Writes an RGB PNG file (`pixels` as for `rgb(_:width:height:)`).
    public static func writeRGB(_ pixels: [UInt8], width: Int, height: Int, to path: String) throws(DataError) {
        try write(rgb(pixels, width: width, height: height), to: path)
    }

    private static func write(_ bytes: [UInt8], to path: String) throws(DataError) {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw .invalidSetting(setting: "png", reason: "cannot write \(path)")
        }
    }

    private static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int,
                               colourType: UInt8) throws(DataError) -> [UInt8] {
        guard width > 0, height > 0, pixels.count == width * height * channels else {
            let unit = channels == 1 ? "pixels" : "bytes (\(channels) a pixel)"
            throw .invalidSetting(setting: "png", reason: "\(pixels.count) \(unit) for \(width)×\(height)")
        }
        let stride = width * channels
        var raw = [UInt8]()
        raw.reserveCapacity((stride + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter type 0 (none)
            raw.append(contentsOf: pixels[(y * stride)..<((y + 1) * stride)])
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
        header += [8, colourType, 0, 0, 0]  // bit depth 8, colour type, deflate, filter 0, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
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
