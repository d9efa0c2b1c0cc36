// Concatenation of parallel branches along the channel dimension (the inception module
// of Szegedy et al., "Going Deeper with Convolutions", 2014).
//
// Every branch sees the same input; their outputs [N, C_b, ...] (equal except in C)
// are joined into [N, ΣC_b, ...]. Backward hands each branch its slice of the output
// gradient and sums the branches' input gradients. Names: `<branch>.<child name>`, as
// for a PyTorch module holding the branches as attributes.
import PhalanxCore

/// Runs named branches on one input and concatenates their outputs along dimension 1.
public final class Concat: Layer {
    public let kind = "Concat"
    /// The branches with their names, in concatenation order.
    public let branches: [(name: String, layer: Layer)]

    /// Channel offset and count of each branch in the last output.
    private var offsets: [Int]
    private var widths: [Int]
    private var output: Tensor?
    /// Each branch's slice of the output gradient.
    private var branchGradients: [Tensor?]
    private var inputGradient: Tensor?

    /// A concatenation of named branches; names become state-dict prefixes.
    public init(_ named: [(String, Layer)]) {
        precondition(!named.isEmpty, "Concat: needs at least one branch")
        branches = named.map { (name: $0.0, layer: $0.1) }
        var seen = Set<String>()
        for (name, layer) in branches {
            precondition(!name.isEmpty && !name.contains("."), "Concat: branch name '\(name)' must be non-empty and have no dot")
            precondition(seen.insert(name).inserted, "Concat: two branches are named '\(name)'")
            prefixNames(of: layer, with: name)
        }
        offsets = Array(repeating: 0, count: branches.count)
        widths = offsets
        branchGradients = Array(repeating: nil, count: branches.count)
    }

    /// A concatenation of branches named by their index (`0`, `1`, ...).
    public convenience init(_ layers: [Layer]) {
        self.init(layers.enumerated().map { (String($0.offset), $0.element) })
    }

    public var parameters: [Parameter] { branches.flatMap { $0.layer.parameters } }
    public var sublayers: [Layer] { branches.map(\.layer) }
    public var buffers: [Buffer] { branches.flatMap { $0.layer.buffers } }

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] {
        var result: [Int] = []
        var first = ""
        for (name, layer) in branches {
            let s: [Int]
            do {
                s = try layer.outputShape(for: inputShape)
            } catch {
                throw error.inside(name)
            }
            guard s.count >= 2 else {
                throw ShapeError(kind: kind, "branch '\(name)' output \(describe(s)) has no channel dimension (need rank ≥ 2)")
            }
            if result.isEmpty {
                result = s
                first = name
                continue
            }
            var other = s, mine = result
            other[1] = 0
            mine[1] = 0
            guard other == mine else {
                throw ShapeError(kind: kind, "branch '\(name)' output \(describe(s)) does not match branch '\(first)' output \(describe(result)) outside dimension 1")
            }
            result[1] += s[1]
        }
        return result
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let outs = branches.map { $0.layer.forward(x, mode: mode) }
        var shape = outs[0].shape
        shape[1] = 0
        for (b, o) in outs.enumerated() {
            offsets[b] = shape[1]
            widths[b] = o.shape[1]
            shape[1] += o.shape[1]
        }
        let y = Tensor.reuse(&output, shape: shape)
        let n = shape[0], channels = shape[1], inner = y.count / max(n * channels, 1)
        for (b, o) in outs.enumerated() {
            precondition(o.count == n * widths[b] * inner, "Concat: branch '\(branches[b].name)' output \(describe(o.shape)) does not fit \(describe(shape))")
            let run = widths[b] * inner, src = o.data, dst = y.data + offsets[b] * inner
            Parallel.forEach(n, grain: max(1, Vector.grain / max(run, 1))) { samples in
                for i in samples { (dst + i * channels * inner).update(from: src + i * run, count: run) }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = output else { preconditionFailure("Concat.backward before forward") }
        precondition(dy.count == y.count, "Concat.backward: gradient \(describe(dy.shape)) does not match output \(describe(y.shape))")
        let n = y.shape[0], channels = y.shape[1], inner = y.count / max(n * channels, 1)
        var dx: Tensor?
        for b in branches.indices {
            var shape = y.shape
            shape[1] = widths[b]
            let g = Tensor.reuse(&branchGradients[b], shape: shape)
            let run = widths[b] * inner, src = dy.data + offsets[b] * inner, dst = g.data
            Parallel.forEach(n, grain: max(1, Vector.grain / max(run, 1))) { samples in
                for i in samples { (dst + i * run).update(from: src + i * channels * inner, count: run) }
            }
            let dxBranch = branches[b].layer.backward(g)
            if let sum = dx {
                Vector.accumulate(dxBranch, into: sum)
            } else {
                let sum = Tensor.reuse(&inputGradient, shape: dxBranch.shape)
                sum.data.update(from: dxBranch.data, count: dxBranch.count)
                dx = sum
            }
        }
        return dx!
    }
}
