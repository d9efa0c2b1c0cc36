// Transposed 2-D convolution (PyTorch's nn.ConvTranspose2d, groups = 1): the adjoint of a
// convolution, the upsampling layer of convolutional decoders.
//
// Input [N, Cin, H, W] → output [N, Cout, Ho, Wo] with Ho = (H − 1)·S − 2P + kh + OP
// (OP, the output padding, < S). Weight [Cin, Cout, kh, kw] as PyTorch stores it, bias
// [Cout]. With G the geometry of a convolution over the *output* (Cout channels, Ho×Wo,
// same kernel, stride and padding), whose output is exactly H×W:
//   forward   cols = Wᵀ·x  ([Cout·kh·kw, H·W]),  y = col2im(cols, G) + b
//   backward  c = im2col(dy, G),  dx = W·c,  dW += x·cᵀ,  db += Σ dy
// per sample, with the GEMMs in OpenBLAS. Left out: groups > 1 and dilation.
import PhalanxCore

/// A transposed convolution.
public final class ConvTranspose2D: Layer {
    public let kind = "ConvTranspose2D"
    public let inChannels: Int, outChannels: Int
    public let kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padH: Int, padW: Int
    public let outputPadH: Int, outputPadW: Int
    public let weight: Parameter
    public let bias: Parameter?
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var cols = Tensor(shape: [0])

    public init(inChannels: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0), bias: Bool = true,
                initializer: Initializer = .heUniform, rng: inout RNG) throws(ShapeError) {
        guard inChannels > 0, outChannels > 0 else {
            throw ShapeError(kind: "ConvTranspose2D", "channels must be positive, got \(inChannels) → \(outChannels)")
        }
        guard kernel.0 > 0, kernel.1 > 0, stride.0 > 0, stride.1 > 0, padding.0 >= 0, padding.1 >= 0 else {
            throw ShapeError(kind: "ConvTranspose2D", "kernel and stride must be positive and padding not negative")
        }
        guard outputPadding.0 >= 0, outputPadding.1 >= 0, outputPadding.0 < stride.0, outputPadding.1 < stride.1 else {
            throw ShapeError(kind: "ConvTranspose2D", "output padding must lie in [0, stride), got \(outputPadding)")
        }
        self.inChannels = inChannels; self.outChannels = outChannels
        (kernelH, kernelW) = kernel
        (strideH, strideW) = stride
        (padH, padW) = padding
        (outputPadH, outputPadW) = outputPadding
        let w = Tensor(shape: [inChannels, outChannels, kernel.0, kernel.1])
        // PyTorch computes the fan-in of a transposed convolution from weight.size(1).
        initializer.fill(w, fanIn: outChannels * kernel.0 * kernel.1, fanOut: inChannels * kernel.0 * kernel.1, rng: &rng)
        weight = Parameter(name: "weight", value: w)
        self.bias = bias ? Parameter(name: "bias", value: Tensor(shape: [outChannels]), decays: false) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// The convolution over the output whose adjoint this layer is.
    func geometry(height: Int, width: Int) -> ConvGeometry {
        ConvGeometry(channels: outChannels, height: (height - 1) * strideH - 2 * padH + kernelH + outputPadH,
                     width: (width - 1) * strideW - 2 * padW + kernelW + outputPadW,
                     kernelH: kernelH, kernelW: kernelW, strideH: strideH, strideW: strideW, padH: padH, padW: padW)
    }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count == 4 else { throw ShapeError(kind: kind, "expects input [N, C, H, W], got \(describe(s))") }
        guard s[1] == inChannels else { throw ShapeError(kind: kind, "expects \(inChannels) input channels, got \(s[1])") }
        let g = geometry(height: s[2], width: s[3])
        guard g.height > 0, g.width > 0 else {
            throw ShapeError(kind: kind, "the output would be \(g.height)×\(g.width): padding \(padH)×\(padW) is too large")
        }
        try g.validate(kind: kind)
        return [s[0], outChannels, g.height, g.width]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        input = x
        let n = x.shape[0], hw = x.shape[2] * x.shape[3]
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let y = Tensor.reuse(&output, shape: shape)
        y.zero()
        cols.resize([g.colRows, hw])
        let outSize = outChannels * g.height * g.width
        for i in 0..<n {
            // cols = Wᵀ · x_i : [Cout·kh·kw, Cin] · [Cin, H·W]
            BLAS.gemm(transA: true, m: g.colRows, n: hw, k: inChannels, weight.value.data, x.data + i * inChannels * hw,
                      cols.data, parallel: true)
            col2im(cols.data, g, y.data + i * outSize)
        }
        if let b = bias {
            let plane = g.height * g.width
            for i in 0..<n {
                for c in 0..<outChannels {
                    let p = y.data + i * outSize + c * plane, v = b.value[c]
                    for e in 0..<plane { p[e] += v }
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("ConvTranspose2D.backward before forward") }
        let n = x.shape[0], hw = x.shape[2] * x.shape[3]
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let dx = Tensor.reuse(&inputGradient, shape: x.shape)
        let outSize = outChannels * g.height * g.width, plane = g.height * g.width
        cols.resize([g.colRows, hw])
        for i in 0..<n {
            im2col(dy.data + i * outSize, g, cols.data)
            // dx_i = W · c : [Cin, Cout·kh·kw] · [Cout·kh·kw, H·W]
            BLAS.gemm(m: inChannels, n: hw, k: g.colRows, weight.value.data, cols.data, dx.data + i * inChannels * hw,
                      parallel: true)
            // dW += x_i · cᵀ : [Cin, H·W] · [H·W, Cout·kh·kw]
            BLAS.gemm(transB: true, m: inChannels, n: g.colRows, k: hw, x.data + i * inChannels * hw, cols.data,
                      beta: 1, weight.gradient.data, parallel: true)
        }
        if let b = bias {
            for i in 0..<n {
                for c in 0..<outChannels {
                    let p = dy.data + i * outSize + c * plane
                    var s: Float = 0
                    for e in 0..<plane { s += p[e] }
                    b.gradient[c] += s
                }
            }
        }
        return dx
    }
}
