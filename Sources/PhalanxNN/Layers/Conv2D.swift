// Conv2D: 2-D convolution as im2col + GEMM, PyTorch's nn.Conv2d layout.
//
// Input [N, Cin, H, W], output [N, Cout, outH, outW] with outH = (H − kh + 2P)/S + 1
// (floor); weight [Cout, Cin/groups, kh, kw], bias [Cout]. Groups split the channels
// into independent convolutions (AlexNet's two columns are groups = 2).
//
// Each thread takes a contiguous run of samples and walks it in column tiles
// (Conv2D+Tiling.swift): im2col into its own scratch, then per group and per slice of
// columns one OpenBLAS GEMM in transposed form, outputᵀ = columnsᵀ · Wᵀ (on OpenBLAS's
// small-matrix kernels this runs ~40 % faster than W · columns), and a transpose into
// NCHW. A 1×1 stride-1 unpadded convolution reads the input as its column matrix.
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
    /// About how many floats one thread's column tile holds: enough for im2col to move
    /// long runs, few enough to stay in the core's L2 cache for the GEMMs that read it.
    public var tileFloats = 1 << 17
    /// Multiply-adds per GEMM call up to which OpenBLAS skips packing (its AVX-512
    /// small-matrix kernels); a tile's GEMMs are cut into column slices below it.
    /// 0 (the default where OpenBLAS runs other kernels) turns slicing off.
    public var gemmSliceLimit = BLAS.hasSmallMatrixKernels ? 1_000_000 : 0

    var input: Tensor?
    var output: Tensor?
    var inputGradient: Tensor?
    /// Wᵀ per group, [groups][inPerGroup·kh·kw][outPerGroup], refreshed by every forward;
    /// backward uses it to transpose the summed weight gradient back.
    var weightT: Tensor?
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
        let wt = Tensor.reuse(&weightT, shape: [weight.count])
        let wBlock = plan.outPerGroup * plan.groupRows
        for g in 0..<groups {
            BLAS.transpose(rows: plan.outPerGroup, cols: plan.groupRows, weight.value.data + g * wBlock,
                           wt.data + g * wBlock)
        }
        Parallel.forChunks(plan.batch) { chunk, samples in
            let s = scratch[chunk]
            plan.forEachTile(in: samples) { ns, rows in
                forwardTile(plan, x.data, y.data, samples: ns, rows: rows, s)
            }
        }
        return y
    }

    /// The column operand of a tile: the input itself (1×1) or the tile's im2col, with
    /// its row stride and the offset between groups' blocks of rows.
    func columns(_ p: ConvPlan, _ x: UnsafeMutablePointer<Float>, samples: Range<Int>, rows: Range<Int>,
                 _ s: ConvScratch) -> (UnsafeMutablePointer<Float>, ld: Int, groupStride: Int) {
        if p.pointwise {
            return (x + samples.lowerBound * inChannels * p.pixels + rows.lowerBound * p.geometry.outW,
                    p.pixels, p.inPerGroup * p.pixels)
        }
        let band = rows.count * p.pitch, cols = samples.count * band
        let columns = s.columns!.data
        for (j, n) in samples.enumerated() {
            let image = x + n * inChannels * p.inputPixels
            if p.wide {
                im2colWide(image, p.geometry, rows: rows, columns + j * band, ld: cols)
            } else {
                im2col(image, p.geometry, rows: rows, columns + j * band, ld: cols)
            }
        }
        return (columns, cols, p.groupRows * cols)
    }

    /// Output of one tile: columns, outputᵀ slice by slice and group by group, then a
    /// transpose of each sample's block into NCHW (row by row, dropping the junk
    /// columns, for wide columns) and the bias.
    private func forwardTile(_ p: ConvPlan, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                             samples: Range<Int>, rows: Range<Int>, _ s: ConvScratch) {
        let outW = p.geometry.outW
        let band = rows.count * p.pitch, cols = samples.count * band
        let (col, ldCol, groupStride) = columns(p, x, samples: samples, rows: rows, s)
        let yt = s.transposed!.data, wt = weightT!.data
        let wBlock = p.outPerGroup * p.groupRows
        p.forEachSlice(cols) { c0, n in
            for g in 0..<groups {
                // outputᵀ[c0..<c0+n, group g] = columns_g[:, c0..<c0+n]ᵀ · W_gᵀ
                BLAS.gemm(transA: true, m: n, n: p.outPerGroup, k: p.groupRows,
                          col + g * groupStride + c0, lda: ldCol,
                          wt + g * wBlock, ldb: p.outPerGroup,
                          yt + c0 * outChannels + g * p.outPerGroup, ldc: outChannels)
            }
        }
        let b = bias?.value.data
        for (j, n) in samples.enumerated() {
            let dst = y + n * outChannels * p.pixels + rows.lowerBound * outW
            let src = yt + j * band * outChannels
            if p.wide {
                for r in 0..<rows.count {
                    BLAS.transpose(rows: outW, cols: outChannels, src + r * p.pitch * outChannels, lda: outChannels,
                                   dst + r * outW, ldb: p.pixels)
                }
            } else {
                BLAS.transpose(rows: band, cols: outChannels, src, lda: outChannels, dst, ldb: p.pixels)
            }
            guard let b else { continue }
            let count = rows.count * outW
            for co in 0..<outChannels {
                let row = dst + co * p.pixels, v = b[co]
                for i in 0..<count { row[i] += v }
            }
        }
    }
}
