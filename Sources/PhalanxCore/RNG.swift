// Seeded random numbers: xoshiro256** (Blackman & Vigna, 2018) seeded by SplitMix64.
//
// Every random choice in Phalanx (initialisation, dropout masks, shuffling,
// augmentation) draws from an `RNG` whose state can be saved and restored, so runs
// are reproducible and resumable bit for bit.

/// A fast, seedable, checkpointable pseudo-random generator.
public struct RNG: RandomNumberGenerator, Codable, Equatable, Sendable {
    /// The four words of xoshiro256** state.
    public var state: [UInt64]

    /// A generator for `seed`; `stream` selects an independent sequence for the same seed
    /// (a rank, a layer, an epoch).
    public init(seed: UInt64, stream: UInt64 = 0) {
        var sm = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03
        var s = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 { s[i] = RNG.splitMix(&sm) }
        if s.allSatisfy({ $0 == 0 }) { s[0] = 1 }
        state = s
    }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = RNG.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = RNG.rotl(state[3], 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [low, high).
    @inline(__always)
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * nextFloat()
    }

    /// Normally distributed (Box–Muller).
    public mutating func normal(mean: Float = 0, std: Float = 1) -> Float {
        let u1 = max(Double(next() >> 11) * 0x1.0p-53, .leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) * 0x1.0p-53
        let r = (-2 * log(u1)).squareRoot()
        return mean + std * Float(r * cos(2 * Double.pi * u2))
    }

    /// A uniform integer in `0..<bound`.
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next(upperBound: UInt64(bound)))
    }

    /// Fills `tensor` with uniform values in [low, high).
    public mutating func fillUniform(_ tensor: Tensor, _ low: Float, _ high: Float) {
        let p = tensor.data
        for i in 0..<tensor.count { p[i] = uniform(low, high) }
    }

    /// Fills `tensor` with normal values.
    public mutating func fillNormal(_ tensor: Tensor, mean: Float = 0, std: Float) {
        let p = tensor.data
        for i in 0..<tensor.count { p[i] = normal(mean: mean, std: std) }
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        if n < 2 { return a }
        for i in stride(from: n - 1, to: 0, by: -1) {
            a.swapAt(i, int(below: i + 1))
        }
        return a
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
