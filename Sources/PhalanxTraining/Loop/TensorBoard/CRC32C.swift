// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven one byte at a
// time, and TFRecord's masked form. TensorBoard checks both on every record it reads.
// Left out: slicing-by-8 and the SSE4.2 instruction (event files are small).

/// CRC-32C checksums as TFRecord frames use them.
public enum CRC32C {
    /// The 256-entry table of the reflected polynomial.
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC-32C of `bytes` ("123456789" → 0xE3069283).
    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's mask: rotated right by 15 bits plus a constant, so a CRC stored in the
    /// data it covers does not checksum to a fixed value.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
