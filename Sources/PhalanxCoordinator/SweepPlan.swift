// The trials of a sweep: every combination of a grid, or independent random draws
// (uniform, log-uniform, or from a list), as `--set key=value` overrides.
import Foundation
import PhalanxCore
import PhalanxTraining

/// One trial: its number (from 1) and the overrides that make it.
public struct SweepTrial: Codable, Equatable, Sendable {
    public var number: Int
    /// Dotted key → value as YAML text, in sorted key order.
    public var values: [String: String]
    /// `key=value` strings for `LoadedConfig.derived(overrides:)`, sorted by key.
    public var overrides: [String] { values.keys.sorted().map { "\($0)=\(values[$0]!)" } }
    /// `trial-003`.
    public var name: String { String(format: "trial-%03d", number) }
}

/// Expands a `sweep:` section into trials.
public enum SweepPlan {
    /// The trials of `sweep`, drawn with `seed` for a random search; `fail(key, message)`
    /// makes the error for a bad setting.
    public static func trials(_ sweep: SweepConfig, seed: UInt64,
                              fail: (String, String) -> ConfigError) throws -> [SweepTrial] {
        let keys = sweep.parameters.keys.sorted()
        guard !keys.isEmpty else { throw fail("sweep.parameters", "name at least one config key to sweep") }
        for key in keys { try check(sweep.parameters[key]!, key: "sweep.parameters.\(key)", fail: fail) }
        switch sweep.method {
        case "grid":
            var axes: [[String]] = []
            for key in keys {
                let p = sweep.parameters[key]!
                if let v = p.values { axes.append(v); continue }
                guard let steps = p.steps else {
                    throw fail("sweep.parameters.\(key)", "a grid over a range needs 'steps' (how many points, ends included)")
                }
                axes.append(gridPoints(p, steps: steps).map { format($0, integer: p.integer ?? false) })
            }
            var combos: [[String]] = [[]]
            for axis in axes { combos = combos.flatMap { c in axis.map { c + [$0] } } }
            return combos.enumerated().map { i, c in
                SweepTrial(number: i + 1, values: Dictionary(uniqueKeysWithValues: zip(keys, c)))
            }
        case "random":
            guard sweep.trials >= 1 else { throw fail("sweep.trials", "must be at least 1, got \(sweep.trials)") }
            var rng = RNG(seed: seed, stream: 0x5357_4545_5000_0000)  // "SWEEP"
            return (1...sweep.trials).map { number in
                var values: [String: String] = [:]
                for key in keys { values[key] = draw(sweep.parameters[key]!, rng: &rng) }
                return SweepTrial(number: number, values: values)
            }
        default:
            throw fail("sweep.method", "unknown method '\(sweep.method)'; known: grid, random")
        }
    }

    private static func check(_ p: SweepParameter, key: String, fail: (String, String) -> ConfigError) throws {
        let given = [p.values != nil, p.uniform != nil, p.logUniform != nil].filter { $0 }.count
        guard given == 1 else { throw fail(key, "give exactly one of 'values', 'uniform: [low, high]', 'log_uniform: [low, high]'") }
        if let v = p.values, v.isEmpty { throw fail(key + ".values", "the list is empty") }
        if let r = p.uniform ?? p.logUniform {
            guard r.count == 2, r[0] <= r[1] else { throw fail(key, "a range is [low, high] with low ≤ high") }
            if p.logUniform != nil && r[0] <= 0 { throw fail(key + ".log_uniform", "a log-uniform range must be positive") }
        }
        if let s = p.steps, s < 1 { throw fail(key + ".steps", "must be at least 1") }
    }

    /// `steps` points from low to high: evenly spaced, or evenly in log for log_uniform.
    static func gridPoints(_ p: SweepParameter, steps: Int) -> [Double] {
        let log = p.logUniform != nil
        let r = p.uniform ?? p.logUniform!
        let (a, b) = log ? (Foundation.log(r[0]), Foundation.log(r[1])) : (r[0], r[1])
        return (0..<steps).map { i in
            let x = steps == 1 ? a : a + (b - a) * Double(i) / Double(steps - 1)
            return log ? exp(x) : x
        }
    }

    private static func draw(_ p: SweepParameter, rng: inout RNG) -> String {
        let u = Double(rng.next() >> 11) * 0x1p-53
        if let v = p.values { return v[min(v.count - 1, Int(u * Double(v.count)))] }
        let x: Double
        if let r = p.logUniform {
            x = exp(log(r[0]) + u * (log(r[1]) - log(r[0])))
        } else {
            let r = p.uniform!
            x = r[0] + u * (r[1] - r[0])
        }
        return format(x, integer: p.integer ?? false)
    }

    /// A value as YAML text: integers plainly, reals with 6 significant digits.
    static func format(_ x: Double, integer: Bool) -> String {
        integer ? String(Int(x.rounded())) : String(format: "%.6g", x)
    }
}
