import PhalanxCore
@testable import PhalanxNN
import Testing

/// One convolution configuration under test.
struct ConvCase: CustomTestStringConvertible, Sendable {
    var batch = 2, inChannels = 2, outChannels = 3, height = 6, width = 5
    var kernel = (3, 3), stride = (1, 1), padding = (0, 0), groups = 1
    /// Conv2D.tileFloats: 1 forces one band per output row, large values put several
    /// samples in one tile.
    var tileFloats = 1 << 17
    /// Conv2D.gemmSliceLimit in multiples of one column's multiply-adds (0: no slicing
    /// at these sizes); 16 gives 16-column GEMM slices.
    var sliceColumns = 0

    var testDescription: String {
        "N\(batch) \(inChannels)→\(outChannels) \(height)×\(width) k\(kernel) s\(stride) p\(padding) g\(groups) tile \(tileFloats) slice \(sliceColumns)"
    }

    func layer(bias: Bool = true) throws -> Conv2D {
        var rng = RNG(seed: 11)
        let conv = try Conv2D(inChannels: inChannels, outChannels: outChannels, kernel: kernel,
                              stride: stride, padding: padding, groups: groups, bias: bias, rng: &rng)
        conv.tileFloats = tileFloats
        if sliceColumns > 0 {
            conv.gemmSliceLimit = sliceColumns * (outChannels / groups) * (inChannels / groups) * kernel.0 * kernel.1
        }
        if let b = conv.bias { rng.fillUniform(b.value, -0.5, 0.5) }
        return conv
    }

    var input: Tensor { randomTensor([batch, inChannels, height, width], seed: 3) }
}

/// Direct convolution from the definition, in Double.
func referenceConv(_ x: Tensor, _ conv: Conv2D) -> [Float] {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let outH = (h + 2 * conv.padH - conv.kernelH) / conv.strideH + 1
    let outW = (w + 2 * conv.padW - conv.kernelW) / conv.strideW + 1
    let cin = c / conv.groups, cout = conv.outChannels / conv.groups
    var y = [Float](repeating: 0, count: n * conv.outChannels * outH * outW)
    for s in 0..<n { for co in 0..<conv.outChannels { for oh in 0..<outH { for ow in 0..<outW {
        var acc = Double(conv.bias?.value[co] ?? 0)
        let g = co / cout
        for ci in 0..<cin { for ki in 0..<conv.kernelH { for kj in 0..<conv.kernelW {
            let ih = oh * conv.strideH - conv.padH + ki, iw = ow * conv.strideW - conv.padW + kj
            guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
            let xv = x[((s * c + g * cin + ci) * h + ih) * w + iw]
            let wv = conv.weight.value[((co * cin + ci) * conv.kernelH + ki) * conv.kernelW + kj]
            acc += Double(xv) * Double(wv)
        } } }
        y[((s * conv.outChannels + co) * outH + oh) * outW + ow] = Float(acc)
    } } } }
    return y
}

@Suite struct ConvTests {
    static let cases: [ConvCase] = [
        ConvCase(batch: 4),                                                 // several samples per tile
        ConvCase(tileFloats: 1),                                            // one band per output row
        ConvCase(padding: (1, 1)),
        ConvCase(batch: 3, height: 7, width: 7, stride: (2, 2), padding: (1, 1)),
        ConvCase(height: 5, width: 5, kernel: (2, 2), stride: (2, 2), padding: (2, 2), tileFloats: 20),
        ConvCase(inChannels: 4, outChannels: 4, groups: 2),
        ConvCase(inChannels: 4, outChannels: 6, padding: (1, 1), groups: 2, tileFloats: 1),
        ConvCase(inChannels: 3, outChannels: 4, kernel: (1, 1)),               // pointwise, no im2col
        ConvCase(inChannels: 4, outChannels: 2, kernel: (1, 1), groups: 2),
        ConvCase(inChannels: 3, outChannels: 2, kernel: (1, 1), stride: (2, 2)), // 1×1 through im2col
        ConvCase(height: 7, width: 6, kernel: (3, 2), stride: (2, 1), padding: (1, 0)),
        ConvCase(batch: 5, height: 5, width: 7, kernel: (1, 3), padding: (0, 1), tileFloats: 630), // 3 samples a tile
        ConvCase(padding: (1, 1), tileFloats: 180),                          // bands of 2 rows, same width
        ConvCase(batch: 3, kernel: (5, 5), padding: (2, 2), sliceColumns: 16), // slices across samples
        ConvCase(height: 7, width: 6, kernel: (3, 5), padding: (1, 2), groups: 1, tileFloats: 300, sliceColumns: 16),
        ConvCase(inChannels: 4, outChannels: 4, height: 8, width: 6, kernel: (1, 1), groups: 2, tileFloats: 48, sliceColumns: 16),
        ConvCase(width: 6, padding: (1, 0), tileFloats: 324, sliceColumns: 9),   // wide columns, 3-row bands
    ]

    @Test(arguments: cases)
    func gradients(_ c: ConvCase) throws {
        expectGradients(try c.layer(), input: c.input)
    }

    @Test(arguments: cases)
    func forwardMatchesDirectConvolution(_ c: ConvCase) throws {
        let conv = try c.layer()
        let x = c.input
        let y = conv.forward(x, mode: .evaluation)
        #expect(y.shape == (try conv.outputShape(for: x.shape)))
        let expected = referenceConv(x, conv)
        let err = zip(y.scalars, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(y.count == expected.count && err < 1e-5, "\(c.testDescription): max error \(err)")
    }

    /// Bands of output rows written side by side (ld) must rebuild the whole-image column
    /// matrix, and col2im of the bands must add up to col2im of the whole.
    @Test(arguments: [(3, 1, 1), (5, 1, 2), (3, 2, 1), (2, 1, 0), (3, 1, 0)])
    func im2colBandsMatchTheWholeImage(_ kps: (Int, Int, Int)) {
        let (k, stride, pad) = kps
        let g = ConvGeometry(channels: 2, height: 7, width: 6, kernelH: k, kernelW: k,
                             strideH: stride, strideW: stride, padH: pad, padW: pad)
        let image = randomTensor([2, 7, 6], seed: 12)
        let whole = Tensor(shape: [g.colRows, g.colCols])
        im2col(image.data, g, whole.data)
        let dcol = randomTensor(whole.shape, seed: 13)
        let expected = Tensor(shape: image.shape)
        col2im(dcol.data, g, expected.data)
        let banded = Tensor(shape: whole.shape), summed = Tensor(shape: image.shape)
        let bands = [0..<2, 2..<3, 3..<g.outH]
        for rows in bands where !rows.isEmpty {
            let at = rows.lowerBound * g.outW
            im2col(image.data, g, rows: rows, banded.data + at, ld: g.colCols)
            let scratch = dcol.copy()   // col2im may zero entries of taps in the padding
            col2im(scratch.data + at, ld: g.colCols, g, rows: rows, summed.data)
        }
        #expect(banded.scalars == whole.scalars)
        let err = zip(summed.scalars, expected.scalars).map { abs($0 - $1) }.max()!
        #expect(err < 1e-5, "col2im by bands: max error \(err)")
    }

    /// Wide columns hold the ordinary columns in their first outW of every W, and
    /// col2imWide of columns with zero junk equals col2im.
    @Test(arguments: [(3, 0), (5, 0), (3, 1), (2, 2)])
    func wideColumnsMatchOrdinaryOnes(_ kp: (Int, Int)) {
        let g = ConvGeometry(channels: 2, height: 7, width: 8, kernelH: kp.0, kernelW: kp.0, padH: kp.1, padW: 0)
        #expect(g.allowsWideColumns)
        let image = randomTensor([2, 7, 8], seed: 14)
        let plain = Tensor(shape: [g.colRows, g.colCols])
        im2col(image.data, g, plain.data)
        let wideCols = g.outH * g.width
        let wide = Tensor(shape: [g.colRows, wideCols], repeating: .nan)
        im2colWide(image.data, g, rows: 0..<2, wide.data, ld: wideCols)
        im2colWide(image.data, g, rows: 2..<g.outH, wide.data + 2 * g.width, ld: wideCols)
        var same = true
        for r in 0..<g.colRows { for oh in 0..<g.outH { for ow in 0..<g.outW {
            same = same && wide[r * wideCols + oh * g.width + ow] == plain[r * g.colCols + oh * g.outW + ow]
        } } }
        #expect(same)
        #expect(!wide.scalars.contains { $0.isNaN }, "junk columns must be written")
        // Adjoint: spread a random gradient with zero junk.
        let dcol = randomTensor(plain.shape, seed: 15)
        let dwide = Tensor(shape: wide.shape)
        for r in 0..<g.colRows { for oh in 0..<g.outH { for ow in 0..<g.outW {
            dwide[r * wideCols + oh * g.width + ow] = dcol[r * g.colCols + oh * g.outW + ow]
        } } }
        let expected = Tensor(shape: image.shape), got = Tensor(shape: image.shape)
        col2im(dcol.data, g, expected.data)
        col2imWide(dwide.data, ld: wideCols, g, rows: 0..<g.outH, got.data)
        let err = zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max()!
        #expect(err < 1e-5, "col2imWide: max error \(err)")
    }

    @Test func withoutBiasAndWithoutInputGradient() throws {
        let c = ConvCase(batch: 3, inChannels: 2, outChannels: 2, padding: (1, 1))
        let conv = try c.layer(bias: false)
        #expect(conv.parameters.map(\.name) == ["weight"])
        expectGradients(conv, input: c.input)
        // Skipping dX must leave dW unchanged.
        let dy = randomTensor([3, 2, 6, 5], seed: 4)
        _ = conv.forward(c.input, mode: .training)
        conv.zeroGradients()
        _ = conv.backward(dy)
        let full = conv.weight.gradient.scalars
        conv.needsInputGradient = false
        conv.zeroGradients()
        _ = conv.backward(dy)
        #expect(conv.weight.gradient.scalars == full)
    }

    @Test func backwardAccumulatesParameterGradients() throws {
        let c = ConvCase()
        let conv = try c.layer()
        let y = conv.forward(c.input, mode: .training)
        let dy = randomTensor(y.shape, seed: 5)
        conv.zeroGradients()
        _ = conv.backward(dy)
        let once = conv.weight.gradient.scalars + conv.bias!.gradient.scalars
        _ = conv.backward(dy)
        let twice = conv.weight.gradient.scalars + conv.bias!.gradient.scalars
        let err = zip(once, twice).map { abs(2 * $0 - $1) }.max()!
        #expect(err < 1e-5)
    }

    @Test func layoutAndInitialisationFollowPyTorch() throws {
        var rng = RNG(seed: 2)
        let conv = try Conv2D(inChannels: 48, outChannels: 128, kernel: 5, padding: 2, groups: 2, rng: &rng)
        #expect(conv.weight.value.shape == [128, 24, 5, 5])
        #expect(conv.parameters.map(\.name) == ["weight", "bias"])
        #expect(conv.weight.decays && !conv.bias!.decays)
        // He normal: std √(2 / fan_in), fan_in = 24·5·5.
        let std = (Vector.sumOfSquares(conv.weight.value) / Double(conv.weight.value.count)).squareRoot()
        #expect(abs(std - (2.0 / 600).squareRoot()) < 0.003)
        #expect(try conv.outputShape(for: [10, 48, 27, 27]) == [10, 128, 27, 27])
    }

    @Test func outputSizeFollowsTheFormula() throws {
        var rng = RNG(seed: 2)
        // AlexNet's first layer: (227 − 11 + 0)/4 + 1 = 55.
        let conv1 = try Conv2D(inChannels: 3, outChannels: 96, kernel: 11, stride: 4, rng: &rng)
        #expect(try conv1.outputShape(for: [1, 3, 227, 227]) == [1, 96, 55, 55])
        let rect = try Conv2D(inChannels: 1, outChannels: 1, kernel: (3, 1), stride: (2, 1), padding: (0, 1), rng: &rng)
        #expect(try rect.outputShape(for: [2, 1, 9, 4]) == [2, 1, 4, 6])
    }

    @Test func impossibleShapesAreNamedErrors() throws {
        var rng = RNG(seed: 2)
        let conv = try Conv2D(inChannels: 3, outChannels: 8, kernel: 5, rng: &rng)
        #expect {
            try conv.outputShape(for: [1, 3, 4, 4])
        } throws: { ($0 as? ShapeError)?.message.contains("does not fit input 4×4") == true }
        #expect {
            try conv.outputShape(for: [1, 1, 28, 28])
        } throws: { ($0 as? ShapeError)?.message.contains("expects 3 input channels, got 1") == true }
        #expect {
            try conv.outputShape(for: [3, 28, 28])
        } throws: { ($0 as? ShapeError)?.message.contains("expects input [N, 3, H, W]") == true }
        #expect {
            try Conv2D(inChannels: 3, outChannels: 8, kernel: 3, groups: 2, rng: &rng)
        } throws: { ($0 as? ShapeError)?.message.contains("groups 2 must divide") == true }
        #expect {
            try Conv2D(inChannels: 4, outChannels: 6, kernel: 3, groups: 4, rng: &rng)
        } throws: { ($0 as? ShapeError)?.message.contains("output channels 6") == true }
        #expect(throws: ShapeError.self) { try Conv2D(inChannels: 4, outChannels: 4, kernel: 3, stride: 0, rng: &rng) }
        #expect(throws: ShapeError.self) { try Conv2D(inChannels: 4, outChannels: 4, kernel: 3, padding: -1, rng: &rng) }
        // Inside a container the error names the layer.
        let model = Sequential([("conv1", conv)])
        #expect { try model.outputShape(for: [1, 3, 2, 2]) } throws: {
            ($0 as? ShapeError)?.description.hasPrefix("layer 'conv1' (Conv2D)") == true
        }
    }
}
