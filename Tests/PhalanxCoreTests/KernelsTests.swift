import Foundation
import XCTest
@testable import PhalanxCore

/// The C vector kernels: accuracy in ulp against Double, special values, the same bits at
/// every instruction-set level, and the LSTM cell against a plain Double implementation.
final class KernelsTests: XCTestCase {
    override func tearDown() { SIMDLevel.set(.avx512) }

    /// Distance in units in the last place between two finite floats.
    private func ulps(_ a: Float, _ b: Float) -> Int {
        func ordered(_ f: Float) -> Int {
            let i = Int(Int32(bitPattern: f.bitPattern))
            return i < 0 ? Int(Int32.min) - i : i
        }
        return abs(ordered(a) - ordered(b))
    }

    /// Samples spread over every binade of [−limit, limit], plus the edges.
    private func samples(limit: Float, count: Int) -> [Float] {
        var rng = RNG(seed: 7)
        var xs: [Float] = [0, -0, 1e-30, -1e-30, 1e-8, 0.549_999_9, 0.55, -0.55, 0.550_000_1, 1, -1, limit, -limit]
        for _ in 0..<count {
            let magnitude = Float(exp2(Double(rng.uniform(-30, Float(log2(Double(limit)))))))
            xs.append(rng.uniform(0, 1) < 0.5 ? -magnitude : magnitude)
        }
        return xs
    }

    private func apply(_ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void, _ xs: [Float]) -> [Float] {
        var ys = [Float](repeating: .nan, count: xs.count)
        xs.withUnsafeBufferPointer { x in ys.withUnsafeMutableBufferPointer { y in f(x.baseAddress!, y.baseAddress!, xs.count) } }
        return ys
    }

    private func maxUlps(_ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
                         _ reference: (Double) -> Double, _ xs: [Float]) -> (Int, Float) {
        let ys = apply(f, xs)
        var worst = (0, Float(0))
        for (x, y) in zip(xs, ys) {
            let r = Float(reference(Double(x)))
            guard r.isFinite, r == 0 || abs(r) >= .leastNormalMagnitude else { continue }
            let u = ulps(y, r)
            if u > worst.0 { worst = (u, x) }
        }
        return worst
    }

    func testAccuracyInUlps() {
        for level in SIMDLevel.allCases where level.rawValue <= SIMDLevel.supported.rawValue {
            SIMDLevel.set(level)
            let e = maxUlps(Vector.exp, Foundation.exp, samples(limit: 87, count: 100_000))
            let t = maxUlps(Vector.tanh, Foundation.tanh, samples(limit: 20, count: 100_000))
            let s = maxUlps(Vector.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, samples(limit: 80, count: 100_000))
            XCTAssertLessThanOrEqual(e.0, 1, "exp at \(level): \(e.0) ulp at x = \(e.1)")
            XCTAssertLessThanOrEqual(t.0, 1, "tanh at \(level): \(t.0) ulp at x = \(t.1)")
            XCTAssertLessThanOrEqual(s.0, 2, "sigmoid at \(level): \(s.0) ulp at x = \(s.1)")
        }
    }

    func testSpecialValues() {
        let xs: [Float] = [.infinity, -.infinity, .nan, 89, -88, 100, -100, 0, -0.0]
        let e = apply(Vector.exp, xs), t = apply(Vector.tanh, xs), s = apply(Vector.sigmoid, xs)
        XCTAssertEqual(Array(e[0...1]), [.infinity, 0])
        XCTAssertTrue(e[2].isNaN && t[2].isNaN && s[2].isNaN)
        XCTAssertEqual(e[3], .infinity)          // above ln(Float.greatestFiniteMagnitude)
        XCTAssertEqual(e[4], 0)                  // below 2^-126: flushed
        XCTAssertEqual(Array(t[0...1]), [1, -1])
        XCTAssertEqual(Array(t[5...6]), [1, -1])
        XCTAssertEqual(Array(s[0...1]), [1, 0])
        XCTAssertEqual(Array(s[5...6]), [1, 0])
        XCTAssertEqual(e[7], 1)
        XCTAssertEqual(t[8].sign, .minus)        // tanh(−0) = −0
        XCTAssertEqual(s[7], 0.5)
    }

    /// Every level computes the same bits (lengths that leave partial vectors).
    func testLevelsAgreeBitForBit() {
        let xs = samples(limit: 40, count: 1_000 + 7)
        SIMDLevel.set(.generic)
        let reference = [apply(Vector.exp, xs), apply(Vector.tanh, xs), apply(Vector.sigmoid, xs)]
        for level in SIMDLevel.allCases where level.rawValue <= SIMDLevel.supported.rawValue {
            SIMDLevel.set(level)
            let got = [apply(Vector.exp, xs), apply(Vector.tanh, xs), apply(Vector.sigmoid, xs)]
            for (g, r) in zip(got, reference) {
                XCTAssertEqual(g.map(\.bitPattern), r.map(\.bitPattern), "\(level) differs from generic")
            }
        }
    }

    /// The LSTM cell against Double arithmetic, with and without peepholes, H not a
    /// multiple of any vector width; forward and backward the same bits at every level.
    func testLSTMCellMatchesDoubleReference() {
        let rows = 3, H = 13, G = 4 * H
        var rng = RNG(seed: 3)
        let pre = (0..<(rows * G)).map { _ in rng.uniform(-3, 3) }
        let cPrev = (0..<(rows * H)).map { _ in rng.uniform(-2, 2) }
        let peepValues = (0..<(3 * H)).map { _ in rng.uniform(-1, 1) }
        let dh = (0..<(rows * H)).map { _ in rng.uniform(-1, 1) }
        let dcIn = (0..<(rows * H)).map { _ in rng.uniform(-1, 1) }
        func sig(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
        for usePeep in [false, true] {
            var results: [[UInt32]] = []
            for level in SIMDLevel.allCases where level.rawValue <= SIMDLevel.supported.rawValue {
                SIMDLevel.set(level)
                var a = pre, c = [Float](repeating: 0, count: rows * H), tc = c, h = c
                var dc = dcIn, da = [Float](repeating: 0, count: rows * G), dPeep = [Float](repeating: 0, count: 3 * H)
                let peep: [Float]? = usePeep ? peepValues : nil
                cPrev.withUnsafeBufferPointer { cp in
                    withOptionalPointer(peep) { pp in
                        LSTMCell.forward(&a, cPrev: cp.baseAddress, peephole: pp, c: &c, tanhC: &tc, h: &h, rows: rows, hidden: H)
                        LSTMCell.backward(gates: a, cPrev: cp.baseAddress, c: c, tanhC: tc, dh: dh, dc: &dc,
                                          peephole: pp, dPeephole: &dPeep,
                                          da: &da, rows: rows, hidden: H)
                    }
                }
                results.append((a + c + h + dc + da + dPeep).map(\.bitPattern))
                // Double reference.
                var dPeepRef = [Double](repeating: 0, count: 3 * H)
                for n in 0..<rows {
                    for j in 0..<H {
                        let k = n * H + j, row = n * G
                        let cp = Double(cPrev[k]), p = { (i: Int) in usePeep ? Double(peepValues[i]) : 0 }
                        let ig = sig(Double(pre[row + j]) + p(j) * cp), fg = sig(Double(pre[row + H + j]) + p(H + j) * cp)
                        let gg = Foundation.tanh(Double(pre[row + 2 * H + j]))
                        let cv = fg * cp + ig * gg
                        let og = sig(Double(pre[row + 3 * H + j]) + p(2 * H + j) * cv), tcv = Foundation.tanh(cv)
                        XCTAssertEqual(Double(h[k]), og * tcv, accuracy: 1e-6)
                        XCTAssertEqual(Double(c[k]), cv, accuracy: 1e-6)
                        let d = Double(dh[k])
                        let dao = d * tcv * og * (1 - og)
                        let dcv = Double(dcIn[k]) + d * og * (1 - tcv * tcv) + dao * p(2 * H + j)
                        let dai = dcv * gg * ig * (1 - ig), daf = dcv * cp * fg * (1 - fg), dag = dcv * ig * (1 - gg * gg)
                        XCTAssertEqual(Double(da[row + j]), dai, accuracy: 1e-5)
                        XCTAssertEqual(Double(da[row + H + j]), daf, accuracy: 1e-5)
                        XCTAssertEqual(Double(da[row + 2 * H + j]), dag, accuracy: 1e-5)
                        XCTAssertEqual(Double(da[row + 3 * H + j]), dao, accuracy: 1e-5)
                        XCTAssertEqual(Double(dc[k]), dcv * fg + dai * p(j) + daf * p(H + j), accuracy: 1e-5)
                        dPeepRef[j] += dai * cp; dPeepRef[H + j] += daf * cp; dPeepRef[2 * H + j] += dao * cv
                    }
                }
                if usePeep {
                    for i in 0..<(3 * H) { XCTAssertEqual(Double(dPeep[i]), dPeepRef[i], accuracy: 1e-5) }
                }
            }
            for r in results.dropFirst() { XCTAssertEqual(r, results[0], "levels differ (peephole: \(usePeep))") }
        }
    }

    /// The packed product against a Double reference for shapes with partial panels and
    /// row blocks, B plain and transposed, C overwritten and accumulated; the same bits at
    /// every level and however the panels are split over threads.
    func testPackedProductMatchesReference() {
        var rng = RNG(seed: 11)
        for (m, k, n) in [(7, 5, 37), (32, 24, 16), (1, 1, 1), (17, 33, 50)] {
            let a = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }
            let b = (0..<(k * n)).map { _ in rng.uniform(-1, 1) }
            let c0 = (0..<(m * n)).map { _ in rng.uniform(-1, 1) }
            for transposed in [false, true] {
                // b holds B (k × n) row-major, or Bᵀ (n × k) when transposed.
                func bAt(_ i: Int, _ j: Int) -> Double { Double(transposed ? b[j * k + i] : b[i * n + j]) }
                var bits: [[UInt32]] = []
                for level in SIMDLevel.allCases where level.rawValue <= SIMDLevel.supported.rawValue {
                    SIMDLevel.set(level)
                    for parallel in [false, true] {
                        let packed = PackedMatrix()
                        packed.pack(b, ldb: transposed ? k : n, transposed: transposed, rows: k, columns: n)
                        var c = c0
                        packed.multiply(a, lda: k, m: m, into: &c, ldc: n, accumulate: true, parallel: parallel)
                        var fresh = c0
                        packed.multiply(a, lda: k, m: m, into: &fresh, ldc: n, accumulate: false, parallel: parallel)
                        for i in 0..<m {
                            for j in 0..<n {
                                let dot = (0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * bAt($1, j) }
                                XCTAssertEqual(Double(c[i * n + j]), Double(c0[i * n + j]) + dot, accuracy: 1e-5)
                                XCTAssertEqual(Double(fresh[i * n + j]), dot, accuracy: 1e-5)
                            }
                        }
                        bits.append((c + fresh).map(\.bitPattern))
                    }
                }
                for r in bits.dropFirst() { XCTAssertEqual(r, bits[0], "\(m)×\(k)×\(n): levels or splits differ") }
            }
        }
    }

    /// Batch norm's plane kernels: moments against Double, normalize and its backward
    /// against the formulas, the same bits at every level (lengths with partial vectors).
    func testNormalizationKernels() {
        var rng = RNG(seed: 5)
        let n = 1_000 + 3
        let x = (0..<n).map { _ in rng.uniform(-2, 3) }, y = (0..<n).map { _ in rng.uniform(-1, 1) }
        var bits: [[UInt64]] = []
        for level in SIMDLevel.allCases where level.rawValue <= SIMDLevel.supported.rawValue {
            SIMDLevel.set(level)
            let (s, ss) = Vector.moments(x, count: n)
            let (t, xy) = Vector.moments(x, count: n, times: y)
            XCTAssertEqual(s, x.reduce(0) { $0 + Double($1) }, accuracy: 1e-9)
            XCTAssertEqual(ss, x.reduce(0) { $0 + Double($1) * Double($1) }, accuracy: 1e-9)
            XCTAssertEqual(t, s)
            XCTAssertEqual(xy, zip(x, y).reduce(0) { $0 + Double($1.0) * Double($1.1) }, accuracy: 1e-9)
            var h = [Float](repeating: 0, count: n), out = h, dx = h
            Vector.normalize(x, count: n, mean: 0.5, scale: 2, gain: 1.5, shift: -1, normalized: &h, into: &out)
            Vector.normalizeBackward(y, normalized: h, count: n, scale: 0.7, a: 0.1, c: 0.2, into: &dx)
            for i in 0..<n {
                XCTAssertEqual(h[i], (x[i] - 0.5) * 2, accuracy: 1e-6)
                XCTAssertEqual(out[i], 1.5 * h[i] - 1, accuracy: 1e-5)
                XCTAssertEqual(dx[i], 0.7 * (y[i] - 0.1 - h[i] * 0.2), accuracy: 1e-5)
            }
            bits.append([s, ss, xy].map(\.bitPattern) + (h + out + dx).map { UInt64($0.bitPattern) })
        }
        for b in bits.dropFirst() { XCTAssertEqual(b, bits[0], "levels differ") }
    }

    func testSumRows() {
        let rows = 5, cols = 67
        let x = (0..<(rows * cols)).map { Float($0 % 13) - 6 }
        var out = [Float](repeating: 1, count: cols)
        Vector.sumRows(x, rows: rows, columns: cols, into: &out)
        for j in 0..<cols {
            XCTAssertEqual(out[j], 1 + (0..<rows).reduce(Float(0)) { $0 + x[$1 * cols + j] })
        }
    }
}

private func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}
