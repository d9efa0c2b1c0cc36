import PhalanxCore
import Testing

@Suite struct KernelTests {
    /// Naive reference: C = op(A)·op(B) in Double.
    func referenceGemm(_ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int,
                       _ a: [Float], _ b: [Float]) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = tA ? a[p * m + i] : a[i * k + p]
                    let bv = tB ? b[j * k + p] : b[p * n + j]
                    s += Double(av) * Double(bv)
                }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmAllTransposes(_ t: (Bool, Bool)) {
        let (m, n, k) = (37, 53, 29)
        var rng = RNG(seed: 3)
        let a = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }
        let b = (0..<(k * n)).map { _ in rng.uniform(-1, 1) }
        let expected = referenceGemm(t.0, t.1, m, n, k, a, b)
        for parallel in [false, true] {
            var c = [Float](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                BLAS.gemm(transA: t.0, transB: t.1, m: m, n: n, k: k,
                          pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, parallel: parallel)
            } } }
            let err = zip(c, expected).map { abs($0 - $1) }.max()!
            #expect(err < 1e-4, "transA \(t.0) transB \(t.1) parallel \(parallel): max error \(err)")
        }
    }

    @Test func parallelGemmSplitsRowsAndColumns() {
        // Shapes large enough to split, tall and wide.
        for (m, n, k) in [(256, 32, 64), (32, 256, 64)] {
            var rng = RNG(seed: 4)
            let a = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }
            let b = (0..<(k * n)).map { _ in rng.uniform(-1, 1) }
            let expected = referenceGemm(false, false, m, n, k, a, b)
            var c = [Float](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                BLAS.gemm(m: m, n: n, k: k, pa.baseAddress!, pb.baseAddress!, pc.baseAddress!, parallel: true)
            } } }
            let err = zip(c, expected).map { abs($0 - $1) }.max()!
            #expect(err < 1e-3, "\(m)×\(n)×\(k): max error \(err)")
        }
    }

    /// Direct convolution-window gather, the definition im2col must match.
    @Test(arguments: [(1, 0), (1, 1), (2, 1), (3, 2), (2, 0)])
    func im2colMatchesDefinitionAndCol2imIsItsAdjoint(_ sp: (Int, Int)) {
        let g = ConvGeometry(channels: 2, height: 5, width: 6, kernelH: 3, kernelW: 2,
                             strideH: sp.0, strideW: sp.0, padH: sp.1, padW: sp.1)
        let image = Tensor(shape: [2, 5, 6])
        var rng = RNG(seed: 5)
        rng.fillUniform(image, -1, 1)
        let col = Tensor(shape: [g.colRows, g.colCols])
        im2col(image.data, g, col.data)
        for c in 0..<2 { for ki in 0..<3 { for kj in 0..<2 {
            let row = (c * 3 + ki) * 2 + kj
            for oh in 0..<g.outH { for ow in 0..<g.outW {
                let ih = oh * g.strideH - g.padH + ki, iw = ow * g.strideW - g.padW + kj
                let v: Float = (ih >= 0 && ih < 5 && iw >= 0 && iw < 6) ? image[(c * 5 + ih) * 6 + iw] : 0
                #expect(col[row * g.colCols + oh * g.outW + ow] == v)
            } }
        } } }
        // <im2col(x), y> == <x, col2im(y)>
        let y = Tensor(shape: col.shape)
        rng.fillUniform(y, -1, 1)
        let back = Tensor(shape: image.shape)
        col2im(y.data, g, back.data)
        var lhs = 0.0, rhs = 0.0
        for i in 0..<col.count { lhs += Double(col[i]) * Double(y[i]) }
        for i in 0..<image.count { rhs += Double(image[i]) * Double(back[i]) }
        #expect(abs(lhs - rhs) < 1e-4)
    }

    @Test func impossibleGeometryIsAnError() {
        let g = ConvGeometry(channels: 1, height: 3, width: 3, kernelH: 5, kernelW: 5)
        #expect(throws: ShapeError.self) { try g.validate(kind: "Conv2D") }
        #expect(throws: ShapeError.self) {
            try ConvGeometry(channels: 1, height: 8, width: 8, kernelH: 3, kernelW: 3, strideH: 0, strideW: 1).validate(kind: "Conv2D")
        }
    }

    @Test func rngIsSeededAndRestorable() {
        var a = RNG(seed: 42), b = RNG(seed: 42), c = RNG(seed: 42, stream: 1)
        let xs = (0..<5).map { _ in a.next() }
        #expect(xs == (0..<5).map { _ in b.next() })
        #expect(xs != (0..<5).map { _ in c.next() })
        let saved = a
        let next = a.nextFloat()
        var restored = saved
        #expect(restored.nextFloat() == next)
        var r = RNG(seed: 9)
        let samples = (0..<20000).map { _ in r.normal() }
        let mean = samples.reduce(0, +) / Float(samples.count)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(samples.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        #expect(r.permutation(10).sorted() == Array(0..<10))
    }

    @Test func parallelForCoversEveryIndexOnce() {
        let n = 100_003
        let hits = Tensor(shape: [n])
        let p = hits.data
        Parallel.forChunks(n, grain: 1000) { chunk, range in
            #expect(chunk < Parallel.threads)
            for i in range { p[i] += 1 }
        }
        #expect(hits.scalars.allSatisfy { $0 == 1 })
    }

    @Test func reshapeSharesMemoryAndResizeReuses() {
        let t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let v = t.reshaped([3, 2])
        v[0] = 10
        #expect(t[0] == 10)
        let storage = t.storage
        t.resize([1, 3])
        #expect(t.storage === storage && t.count == 3)
    }
}
