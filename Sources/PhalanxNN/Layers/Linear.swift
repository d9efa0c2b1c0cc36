// Linear (fully connected) layer: y = x·Wᵀ + b, PyTorch's nn.Linear layout.
//
// Input [N, in], output [N, out]; weight [out, in], bias [out]. Both products run
// as one GEMM over the whole batch, split over the cores.
import PhalanxCore

/// A fully connected layer.
public final class Linear: Layer {
    public let kind = "Linear"
    public let inputs: Int
    public let outputs: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// Whether `backward` computes dLoss/dInput (off for a network's first layer).
    public var needsInputGradient = true

    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(inputs: Int, outputs: Int, bias: Bool = true,
                initializer: Initializer = .lecun, rng: inout RNG) {
        precondition(inputs > 0 && outputs > 0, "Linear: sizes must be positive")
        self.inputs = inputs
        self.outputs = outputs
        let w = Tensor(shape: [outputs, inputs])
        initializer.fill(w, fanIn: inputs, fanOut: outputs, rng: &rng)
        weight = Parameter(name: "weight", value: w)
        self.bias = bias ? Parameter(name: "bias", value: Tensor(shape: [outputs]), decays: false) : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        // [N, F], or [N, T, F] for a projection applied at every time step.
        guard s.count == 2 || s.count == 3 else {
            throw ShapeError(kind: kind, "expects input [N, \(inputs)] (or [N, T, \(inputs)]), got \(describe(s)); put a Flatten before it")
        }
        guard s.last == inputs else {
            throw ShapeError(kind: kind, "expects \(inputs) input features, got \(s.last!) (input \(describe(s)))")
        }
        return s.dropLast() + [outputs]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        let n = x.count / inputs
        input = x
        let y = Tensor.reuse(&output, shape: shape)
        if let b = bias {
            for i in 0..<n { (y.data + i * outputs).update(from: b.value.data, count: outputs) }
        }
        BLAS.gemm(transB: true, m: n, n: outputs, k: inputs, x.data, weight.value.data,
                  beta: bias == nil ? 0 : 1, y.data, parallel: true)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Linear.backward before forward") }
        let n = x.count / inputs
        // dW += dyᵀ·x ; db += Σ_rows dy ; dx = dy·W
        BLAS.gemm(transA: true, m: outputs, n: inputs, k: n, dy.data, x.data,
                  beta: 1, weight.gradient.data, parallel: true)
        if let b = bias {
            let g = b.gradient.data
            for i in 0..<n {
                let row = dy.data + i * outputs
                for j in 0..<outputs { g[j] += row[j] }
            }
        }
        let dx = Tensor.reuse(&inputGradient, shape: x.shape)
        if needsInputGradient {
            BLAS.gemm(m: n, n: inputs, k: outputs, dy.data, weight.value.data, dx.data, parallel: true)
        }
        return dx
    }
}
