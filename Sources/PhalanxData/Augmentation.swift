// Training-time augmentation: random crop with zero padding, horizontal flip, additive
// Gaussian noise.
//
// Every random choice for a sample comes from a generator keyed by (seed, epoch,
// sample index) alone, so the same sample in the same epoch is augmented identically
// whatever thread assembles it, whichever batch or rank it lands in, and after a resume.
// Crop and flip act on the raw pixels (padding is a raw 0, black); normalisation, if
// given, follows; noise is added last, in normalised units.
import Foundation

/// Augmentation settings, as written in a config (`crop_padding`, `horizontal_flip`,
/// `noise_std`); missing keys keep their defaults (off).
public struct Augmentation: Codable, Equatable, Sendable {
    /// Zero padding P on each side before a random H×W crop: shifts the image by up to
    /// ±P pixels each way. 0 turns cropping off.
    public var cropPadding: Int
    /// Mirror left–right with probability ½.
    public var horizontalFlip: Bool
    /// Standard deviation of Gaussian noise added to every pixel; 0 turns it off.
    public var noiseStd: Float

    /// Settings; the defaults leave images unchanged.
    public init(cropPadding: Int = 0, horizontalFlip: Bool = false, noiseStd: Float = 0) {
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
        self.noiseStd = noiseStd
    }

    enum CodingKeys: String, CodingKey {
        case cropPadding = "crop_padding", horizontalFlip = "horizontal_flip", noiseStd = "noise_std"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cropPadding = try c.decodeIfPresent(Int.self, forKey: .cropPadding) ?? 0
        horizontalFlip = try c.decodeIfPresent(Bool.self, forKey: .horizontalFlip) ?? false
        noiseStd = try c.decodeIfPresent(Float.self, forKey: .noiseStd) ?? 0
    }

    /// Whether these settings leave every image unchanged.
    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip && noiseStd == 0 }

    /// Checks the settings, naming the offending key.
    public func validate() throws(DataError) {
        if cropPadding < 0 {
            throw .invalidSetting(setting: "augmentation.crop_padding", reason: "\(cropPadding) must not be negative")
        }
        if !(noiseStd >= 0 && noiseStd.isFinite) {
            throw .invalidSetting(setting: "augmentation.noise_std", reason: "\(noiseStd) must be a finite value ≥ 0")
        }
    }

    /// The crop offset and flip chosen for one sample: the output pixel (y, x) is the
    /// input pixel (y + shiftY, x′ + shiftX) with x′ = W − 1 − x when flipped, else x,
    /// and 0 outside the image.
    public func geometry(seed: UInt64, epoch: Int, sampleIndex: Int) -> (shiftY: Int, shiftX: Int, flip: Bool) {
        var random = SampleRandom(seed: seed, epoch: epoch, index: sampleIndex)
        return drawGeometry(&random)
    }

    private func drawGeometry(_ random: inout SampleRandom) -> (shiftY: Int, shiftX: Int, flip: Bool) {
        var dy = 0, dx = 0
        if cropPadding > 0 {
            dy = random.int(below: 2 * cropPadding + 1) - cropPadding
            dx = random.int(below: 2 * cropPadding + 1) - cropPadding
        }
        let flip = horizontalFlip && random.next() >> 63 == 1
        return (dy, dx, flip)
    }

    /// Writes the augmented copy of one sample `[C, H, W]` from `source` into
    /// `destination` (which must not overlap it), normalising with `normalization`
    /// between the geometric step and the noise.
    public func apply(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>,
                      channels: Int, height: Int, width: Int,
                      seed: UInt64, epoch: Int, sampleIndex: Int,
                      normalization: NormalizationStats? = nil) {
        var random = SampleRandom(seed: seed, epoch: epoch, index: sampleIndex)
        let (dy, dx, flip) = drawGeometry(&random)
        let H = height, W = width
        for c in 0..<channels {
            let src = source + c * H * W, dst = destination + c * H * W
            for y in 0..<H {
                let sy = y + dy
                let row = dst + y * W
                guard sy >= 0 && sy < H else { row.update(repeating: 0, count: W); continue }
                let srow = src + sy * W
                for x in 0..<W {
                    let sx = (flip ? W - 1 - x : x) + dx
                    row[x] = sx >= 0 && sx < W ? srow[sx] : 0
                }
            }
        }
        normalization?.normalizeSample(destination, plane: H * W)
        if noiseStd > 0 {
            let n = channels * H * W
            var j = 0
            while j < n {
                let (a, b) = random.normalPair()
                destination[j] += noiseStd * a
                if j + 1 < n { destination[j + 1] += noiseStd * b }
                j += 2
            }
        }
    }
}

/// A counter-based generator (SplitMix64) keyed by (seed, epoch, sample index):
/// cheap to create per sample, no allocation, independent of any other sample.
struct SampleRandom {
    private var state: UInt64

    init(seed: UInt64, epoch: Int, index: Int) {
        var s = SampleRandom.mix(seed ^ Streams.augmentation)
        s = SampleRandom.mix(s ^ UInt64(truncatingIfNeeded: epoch))
        state = SampleRandom.mix(s ^ UInt64(truncatingIfNeeded: index))
    }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SampleRandom.mix(state)
    }

    /// Uniform in `0..<bound` (multiply-shift; bias below 2⁻³² for small bounds).
    mutating func int(below bound: Int) -> Int {
        Int(((next() >> 32) &* UInt64(bound)) >> 32)
    }

    /// Two independent standard normal values (Marsaglia's polar method: no
    /// trigonometry; both uniforms come from one 64-bit draw).
    mutating func normalPair() -> (Float, Float) {
        while true {
            let bits = next()
            let u = Float(bits >> 40) * (2.0 / 16_777_216.0) - 1
            let v = Float((bits >> 8) & 0xFF_FFFF) * (2.0 / 16_777_216.0) - 1
            let s = u * u + v * v
            if s < 1 && s > 0 {
                let f = (-2 * log(s) / s).squareRoot()
                return (u * f, v * f)
            }
        }
    }
}
