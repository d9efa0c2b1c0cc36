// Residual block (He et al., "Deep Residual Learning for Image Recognition", 2015):
// y = F(x) + x, or y = F(x) + P(x) with a projection shortcut P.
//
// State-dict names: the body's under `body.` and the shortcut's under `shortcut.`,
// as for a PyTorch module with attributes `self.body` and `self.shortcut`. Both names
// can be changed; an empty body name puts the body's own children directly under the
// block, which with `shortcut: "downsample"` gives torchvision's BasicBlock naming
// (`conv1.weight`, `bn1.running_mean`, `downsample.0.weight`) for a Sequential body.
// Nonlinearities after the sum (ResNet's final ReLU) belong to the enclosing model.
import PhalanxCore

/// Adds a layer's output to its input, or to a projection of it.
public final class Residual: Layer {
    public let kind = "Residual"
    /// F, the residual branch.
    public let body: Layer
    /// P, the projection applied to the input before the sum; nil for the identity.
    public let shortcut: Layer?
    /// The body's state-dict prefix ("" for none).
    public let bodyName: String
    /// The shortcut's state-dict prefix.
    public let shortcutName: String

    private var output: Tensor?
    private var inputGradient: Tensor?

    /// A residual block y = body(x) + (shortcut?(x) ?? x). Parameter and buffer names of
    /// the children are prefixed with `names.body` (unless empty) and `names.shortcut`.
    public init(body: Layer, shortcut: Layer? = nil,
                names: (body: String, shortcut: String) = ("body", "shortcut")) {
        precondition(!names.body.contains("."), "Residual: body name '\(names.body)' must have no dot")
        precondition(!names.shortcut.isEmpty && !names.shortcut.contains("."),
                     "Residual: shortcut name '\(names.shortcut)' must be non-empty and have no dot")
        precondition(names.body != names.shortcut, "Residual: body and shortcut are both named '\(names.body)'")
        self.body = body
        self.shortcut = shortcut
        bodyName = names.body
        shortcutName = names.shortcut
        if !bodyName.isEmpty { prefixNames(of: body, with: bodyName) }
        if let shortcut { prefixNames(of: shortcut, with: shortcutName) }
        let all = parameters.map(\.name) + buffers.map(\.name)
        precondition(Set(all).count == all.count, "Residual: state-dict names collide: \(all)")
    }

    public var parameters: [Parameter] { body.parameters + (shortcut?.parameters ?? []) }
    public var sublayers: [Layer] { [body] + (shortcut.map { [$0] } ?? []) }
    public var buffers: [Buffer] { body.buffers + (shortcut?.buffers ?? []) }

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] {
        let f: [Int]
        do {
            f = try body.outputShape(for: inputShape)
        } catch {
            throw bodyName.isEmpty ? error : error.inside(bodyName)
        }
        var p = inputShape
        if let shortcut {
            do {
                p = try shortcut.outputShape(for: inputShape)
            } catch {
                throw error.inside(shortcutName)
            }
        }
        guard f == p else {
            let what = shortcut == nil ? "the input" : "shortcut '\(shortcutName)' output"
            let hint = shortcut == nil ? "; add a projection shortcut" : ""
            throw ShapeError(kind: kind, "body output \(describe(f)) differs from \(what) \(describe(p))\(hint) (input \(describe(inputShape)))")
        }
        return f
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let f = body.forward(x, mode: mode)
        let p = shortcut?.forward(x, mode: mode) ?? x
        precondition(f.shape == p.shape, "Residual: body output \(describe(f.shape)) and shortcut \(describe(p.shape)) differ")
        let y = Tensor.reuse(&output, shape: f.shape)
        Vector.add(f, p, into: y)
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = output else { preconditionFailure("Residual.backward before forward") }
        precondition(dy.count == y.count, "Residual.backward: gradient \(describe(dy.shape)) does not match output \(describe(y.shape))")
        let dBody = body.backward(dy)
        let dShortcut = shortcut?.backward(dy) ?? dy
        let dx = Tensor.reuse(&inputGradient, shape: dBody.shape)
        Vector.add(dBody, dShortcut, into: dx)
        return dx
    }
}
