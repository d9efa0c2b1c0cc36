// PNG colour type 2: signature, IHDR, CRC of every chunk, and the RGB rows zlib gets back.
import CZlib
import Foundation
@testable import PhalanxData
import Testing

@Suite struct PNGRGBTests {
    func u32(_ b: [UInt8], _ at: Int) -> UInt32 { b[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }

    @Test func writesAnRGBImageZlibReadsBack() throws {
        // 2×2: red, green / blue, (10, 20, 30).
        let pixels: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
        let png = try PNG.rgb(pixels, width: 2, height: 2)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var at = 8
        var chunks: [(String, [UInt8])] = []
        while at + 12 <= png.count {
            let length = Int(u32(png, at)), type = String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self)
            let data = Array(png[(at + 8)..<(at + 8 + length)])
            let crc = Array(png[(at + 4)..<(at + 8 + length)]).withUnsafeBufferPointer {
                UInt32(crc32(0, $0.baseAddress, uInt($0.count)))
            }
            #expect(crc == u32(png, at + 8 + length), "\(type) CRC")
            chunks.append((type, data))
            at += 12 + length
        }
        #expect(at == png.count)
        #expect(chunks.map(\.0) == ["IHDR", "IDAT", "IEND"])
        let ihdr = chunks[0].1
        #expect(ihdr.count == 13 && u32(ihdr, 0) == 2 && u32(ihdr, 4) == 2)
        #expect(Array(ihdr[8...]) == [8, 2, 0, 0, 0])  // depth 8, truecolour, deflate, filter 0, no interlace
        var raw = [UInt8](repeating: 0, count: 32), size = uLongf(32)
        let idat = chunks[1].1
        let rc = raw.withUnsafeMutableBufferPointer { out in
            idat.withUnsafeBufferPointer { uncompress(out.baseAddress, &size, $0.baseAddress, uLong($0.count)) }
        }
        #expect(rc == Z_OK && size == 14)  // two rows of 1 filter byte + 2 × 3 bytes
        #expect(raw[0] == 0 && raw[7] == 0)
        #expect(Array(raw[1..<4]) == [255, 0, 0] && Array(raw[4..<7]) == [0, 255, 0])
        #expect(Array(raw[8..<11]) == [0, 0, 255] && Array(raw[11..<14]) == [10, 20, 30])
    }

    @Test func refusesAWrongByteCount() {
        // 4 pixels as greyscale bytes are too few for RGB.
        #expect(throws: DataError.self) { try PNG.rgb([1, 2, 3, 4], width: 2, height: 2) }
        #expect(throws: DataError.self) { try PNG.rgb([], width: 0, height: 0) }
    }
}
