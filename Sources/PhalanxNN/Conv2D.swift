// Conv2D: 2-D convolution as im2col + GEMM, PyTorch's nn.Conv2d layout.
//
// Input [N, Cin, H, W], output [N, Cout, outH, outW] with outH = (H − kh + 2P)/S + 1
// (floor); weight [Cout, Cin/groups, kh, kw], bias [Cout]. Groups split the channels
// into independent convolutions (AlexNet's two columns are groups = 2).
//
// Each thread takes a contiguous run of samples and walks it in column tiles
// (Conv2D+Tiling.swift): im2col into its own scratch, then one OpenBLAS GEMM per
// group, output = W_g · columns_g. A 1×1 stride-1 unpadded convolution skips im2col.
// Backward (Conv2D+Backward.swift) rebuilds the columns instead of keeping them from
// forward. Left out: dilation, padding modes other than zeros, ceil-mode sizes.
import PhalanxCore

/// A 2-D convolution layer over NCHW tensors.
public final class Conv2D: Layer {
    public let kind = "Conv2D"
    public let inChannels: Int
    public let outChannels: Int
    public let kernelH: Int, kernelW: Int
    public let strideH: Int, strideW: Int
    public let padH: Int, padW: Int
    /// Channel groups: each output channel sees `inChannels / groups` input channels.
    public let groups: Int
    /// [outChannels, inChannels / groups, kernelH, kernelW].
    public let weight: Parameter
    /// [outChannels], or nil when the layer has no bias.
    public let bias: Parameter?
    /// Whether `backward` computes dLoss/dInput (off for a network's first layer).
    public var needsInputGradient = true
    /// About how many floats one thread's column tile holds; tiles this size stay in
    /// the core's L2 cache between im2col and the GEMM that reads them.
    public var tileFloats = 1 << 17

    var input: Tensor?
    var output: Tensor?
    var inputGradient: Tensor?
    var scratch: [ConvScratch] = []

    /// A convolution with a `kernel.0 × kernel.1` window (height × width).
    /// Throws when a size is not positive, padding is negative, or `groups` does not
    /// divide both channel counts. The weight is drawn with fan-in (Cin/groups)·kh·kw
    /// and fan-out Cout·kh·kw, as PyTorch counts them; the bias starts at zero.
    public init(inChannels: Int, outChannels: Int, kernel: (Int, Int),
                stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), groups: Int = 1,
                bias: Bool = true, initializer: Initializer = .he, rng: inout RNG) throws(ShapeError) {
        let kind = self.kind
        guard inChannels > 0, outChannels > 0 else {
            throw ShapeError(kind: kind, "channels \(inChannels) → \(outChannels) must be positive")
        }
        guard groups > 0, inChannels % groups == 0, outChannels % groups == 0 else {
            throw ShapeError(kind: kind, "groups \(groups) must divide both input channels \(inChannels) and output channels \(outChannels)")
        }
        guard kernel.0 > 0, kernel.1 > 0 else {
            throw ShapeError(kind: kind, "kernel \(kernel.0)×\(kernel.1) must be positive")
        }
        guard stride.0 > 0, stride.1 > 0 else {
            throw ShapeError(kind: kind, "stride \(stride.0)×\(stride.1) must be positive")
        }
        guard padding.0 >= 0, padding.1 >= 0 else {
            throw ShapeError(kind: kind, "padding \(padding.0)×\(padding.1) must not be negative")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        (kernelH, kernelW) = kernel
        (strideH, strideW) = stride
        (padH, padW) = padding
        self.groups = groups
        let w = Tensor(shape: [outChannels, inChannels / groups, kernel.0, kernel.1])
        initializer.fill(w, fanIn: inChannels / groups * kernel.0 * kernel.1,
                         fanOut: outChannels * kernel.0 * kernel.1, rng: &rng)
        weight = Parameter(name: "weight", value: w)
        self.bias = bias ? Parameter(name: "bias", value: Tensor(shape: [outChannels]), decays: false) : nil
    }

    /// A convolution with a square `kernel × kernel` window and the same stride and
    /// padding along height and width.
    public convenience init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1,
                            padding: Int = 0, groups: Int = 1, bias: Bool = true,
                            initializer: Initializer = .he, rng: inout RNG) throws(ShapeError) {
        try self.init(inChannels: inChannels, outChannels: outChannels, kernel: (kernel, kernel),
                      stride: (stride, stride), padding: (padding, padding), groups: groups,
                      bias: bias, initializer: initializer, rng: &rng)
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count == 4 else {
            throw ShapeError(kind: kind, "expects input [N, \(inChannels), H, W], got \(describe(s))")
        }
        guard s[1] == inChannels else {
            throw ShapeError(kind: kind, "expects \(inChannels) input channels, got \(s[1]) (input \(describe(s)))")
        }
        let g = ConvGeometry(channels: s[1], height: s[2], width: s[3], kernelH: kernelH, kernelW: kernelW,
                             strideH: strideH, strideW: strideW, padH: padH, padW: padW)
        try g.validate(kind: kind)
        return [s[0], outChannels, g.outH, g.outW]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        input = x
        let y = Tensor.reuse(&output, shape: shape)
        let plan = ConvPlan(layer: self, inputShape: x.shape)
        prepareScratch(plan, backward: false)
        Parallel.forChunks(plan.batch) { chunk, samples in
            let s = scratch[chunk]
            plan.forEachTile(in: samples) { ns, rows in
                forwardTile(plan, x.data, y.data, samples: ns, rows: rows, s)
            }
        }
        return y
    }

    /// Output of one tile: im2col, one GEMM per group, then bias (and, for a tile of
    /// several samples, the scatter of its [Cout, columns] block into NCHW).
    private func forwardTile(_ p: ConvPlan, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                             samples: Range<Int>, rows: Range<Int>, _ s: ConvScratch) {
        let outW = p.geometry.outW
        let bandColumns = rows.count * outW
        let cols = samples.count * bandColumns
        let first = samples.lowerBound
        // The column operand: the input itself (1×1) or an im2col tile.
        let columns: UnsafeMutablePointer<Float>, ldColumns: Int, groupStride: Int
        if p.pointwise {
            columns = x + first * inChannels * p.pixels + rows.lowerBound * outW
            (ldColumns, groupStride) = (p.pixels, p.inPerGroup * p.pixels)
        } else {
            columns = s.columns!.data
            (ldColumns, groupStride) = (cols, p.groupRows * cols)
            for (j, n) in samples.enumerated() {
                im2col(x + n * inChannels * p.inputPixels, p.geometry, rows: rows,
                       columns + j * bandColumns, ld: cols)
            }
        }
        // One sample's band goes straight into y; several samples go through a tile.
        let direct = samples.count == 1
        let out = direct ? y + first * outChannels * p.pixels + rows.lowerBound * outW : s.outputTile!.data
        let ldOut = direct ? p.pixels : cols
        let w = weight.value.data
        for g in 0..<groups {
            BLAS.gemm(m: p.outPerGroup, n: cols, k: p.groupRows,
                      w + g * p.outPerGroup * p.groupRows, lda: p.groupRows,
                      columns + g * groupStride, ldb: ldColumns,
                      out + g * p.outPerGroup * ldOut, ldc: ldOut)
        }
        let b = bias?.value.data
        if direct {
            guard let b else { return }
            for co in 0..<outChannels {
                let row = out + co * ldOut, v = b[co]
                for i in 0..<cols { row[i] += v }
            }
        } else {
            for (j, n) in samples.enumerated() {
                for co in 0..<outChannels {
                    let src = out + co * cols + j * bandColumns
                    let dst = y + (n * outChannels + co) * p.pixels
                    if let b {
                        let v = b[co]
                        for i in 0..<bandColumns { dst[i] = src[i] + v }
                    } else {
                        dst.update(from: src, count: bandColumns)
                    }
                }
            }
        }
    }
}
