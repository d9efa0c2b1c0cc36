// PNG: signature, IHDR, CRC of every chunk, and the rows zlib gets back from IDAT.
import CZlib
import Foundation
@testable import PhalanxData
import Testing

@Suite struct PNGTests {
    func u32(_ b: [UInt8], _ at: Int) -> UInt32 { b[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }

    @Test func writesAGreyscaleImageZlibReadsBack() throws {
        let pixels: [UInt8] = [0, 64, 128, 192, 255, 7]
        let png = try PNG.grayscale(pixels, width: 3, height: 2)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var at = 8
        var chunks: [(String, [UInt8])] = []
        while at < png.count {
            let length = Int(u32(png, at)), type = String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self)
            let data = Array(png[(at + 8)..<(at + 8 + length)])
            let crc = Array(png[(at + 4)..<(at + 8 + length)]).withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            #expect(crc == u32(png, at + 8 + length), "\(type) CRC")
            chunks.append((type, data))
            at += 12 + length
        }
        #expect(chunks.map(\.0) == ["IHDR", "IDAT", "IEND"])
        #expect(u32(chunks[0].1, 0) == 3 && u32(chunks[0].1, 4) == 2 && Array(chunks[0].1[8...]) == [8, 0, 0, 0, 0])
        var raw = [UInt8](repeating: 0, count: 8), size = uLongf(8)
        let idat = chunks[1].1
        let rc = raw.withUnsafeMutableBufferPointer { out in
            idat.withUnsafeBufferPointer { uncompress(out.baseAddress, &size, $0.baseAddress, uLong($0.count)) }
        }
        #expect(rc == Z_OK && size == 8)
        #expect(raw == [0, 0, 64, 128, 0, 192, 255, 7])  // filter byte 0, then the row
        #expect(throws: DataError.self) { try PNG.grayscale([1, 2, 3], width: 2, height: 2) }
    }
}
