// Sequential container: children applied in order, backward in reverse.
import PhalanxCore

/// Layers applied one after another; names become state-dict prefixes
/// (`conv1.weight`, or `0.weight` when unnamed, as in PyTorch's nn.Sequential).
public final class Sequential: Layer {
    public let kind = "Sequential"
    /// The children with their names, in order.
    public let children: [(name: String, layer: Layer)]
    /// Called after each child's backward with the parameters whose gradients are now
    /// final — the hook a gradient reducer uses to start reducing during backward.
    public var onGradientsReady: (([Parameter]) -> Void)?

    /// A container of named children.
    public init(_ named: [(String, Layer)]) {
        children = named.map { (name: $0.0, layer: $0.1) }
        var seen = Set<String>()
        for (name, layer) in children {
            precondition(!name.isEmpty && !name.contains("."), "Sequential: child name '\(name)' must be non-empty and have no dot")
            precondition(seen.insert(name).inserted, "Sequential: two children are named '\(name)'")
            prefixNames(of: layer, with: name)
        }
    }

    /// A container of children named by their index (`0`, `1`, ...).
    public convenience init(_ layers: [Layer]) {
        self.init(layers.enumerated().map { (String($0.offset), $0.element) })
    }

    public var parameters: [Parameter] { children.flatMap { $0.layer.parameters } }
    public var sublayers: [Layer] { children.map(\.layer) }
    public var buffers: [Buffer] { children.flatMap { $0.layer.buffers } }

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] {
        var shape = inputShape
        for (name, layer) in children {
            do {
                shape = try layer.outputShape(for: shape)
            } catch {
                throw error.inside(name)
            }
        }
        return shape
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        var x = input
        for child in children { x = child.layer.forward(x, mode: mode) }
        return x
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        var g = outputGradient
        for child in children.reversed() {
            g = child.layer.backward(g)
            if let hook = onGradientsReady {
                let ps = child.layer.parameters
                if !ps.isEmpty { hook(ps) }
            }
        }
        return g
    }
}
