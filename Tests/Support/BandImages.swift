// Generated learnable image data for tests and the MPI checks: grey square images whose
// class is the band of rows that is bright, plus uniform noise, written as IDX files.
import Foundation
import PhalanxCore
import PhalanxData

/// A generator of band images; successive `write` calls continue one random stream.
public struct BandImages {
    /// Image side in pixels.
    public let side: Int
    /// The class of sample i.
    public let label: @Sendable (Int) -> Int
    /// The class a row belongs to (the row is bright when it is the sample's class).
    public let band: @Sendable (Int) -> Int
    /// Base grey of bright and dark rows; uniform noise in [0, noise) is added.
    public let bright: Float, dark: Float, noise: Float
    private var rng: RNG

    public init(side: Int, seed: UInt64, label: @escaping @Sendable (Int) -> Int, band: @escaping @Sendable (Int) -> Int,
                bright: Float, dark: Float, noise: Float) {
        self.side = side; self.label = label; self.band = band
        self.bright = bright; self.dark = dark; self.noise = noise
        rng = RNG(seed: seed)
    }

    /// Writes `count` samples as `<directory>/<prefix>-images-idx3-ubyte.gz` and
    /// `<prefix>-labels-idx1-ubyte.gz`.
    public mutating func write(_ count: Int, prefix: String, to directory: String) throws {
        var pixels = [UInt8](), labels = [UInt8]()
        pixels.reserveCapacity(count * side * side)
        for i in 0..<count {
            let l = label(i)
            labels.append(UInt8(l))
            for y in 0..<side {
                for _ in 0..<side {
                    pixels.append(UInt8(min(255, (band(y) == l ? bright : dark) + rng.uniform(0, noise))))
                }
            }
        }
        try IDX.write(pixels, dimensions: [count, side, side], to: "\(directory)/\(prefix)-images-idx3-ubyte.gz")
        try IDX.write(labels, dimensions: [count], to: "\(directory)/\(prefix)-labels-idx1-ubyte.gz")
    }

    /// Training and test files (`train-…`, `t10k-…`) in `directory`.
    public mutating func write(train: Int, test: Int, to directory: String) throws {
        try write(train, prefix: "train", to: directory)
        try write(test, prefix: "t10k", to: directory)
    }
}
