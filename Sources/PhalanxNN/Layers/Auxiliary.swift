// Auxiliary classifier (Szegedy et al., "Going Deeper with Convolutions", 2014): a
// small head that taps an intermediate activation, whose loss — weighted, 0.3 in
// GoogLeNet — is added to the network's loss during training to push gradient into the
// lower layers. It is absent from evaluation and from the network's output.
//
// In the network it is an identity: `forward` returns its input unchanged in every
// mode. In training, when the trainer has given it the batch's target, it also runs the
// head and the loss; `backward` adds the head's input gradient (of weight · loss) to
// the gradient flowing back through the main path. The head's parameters are the
// block's own (`aux1.conv.weight`, ...), so checkpoints keep them, as PyTorch's
// GoogLeNet keeps `aux1.*` in its state dict.
import PhalanxCore

/// A training-only classifier head whose weighted loss joins the network's.
public final class Auxiliary: Layer {
    public let kind = "Auxiliary"
    /// The head: intermediate activation → logits.
    public let head: Layer
    /// The loss on the head's output (the network's loss kind).
    public let loss: Loss
    /// Factor on the head's loss.
    public var weight: Float

    /// What the next training forward compares the head's output with; the trainer sets
    /// it (with the same per-sample weights and normaliser as the main loss) before each
    /// step. Without a target the head is skipped.
    public var target: LossTarget?
    public var sampleWeights: [Float]?
    public var normalizer: Float?

    /// weight · loss of the last training forward that ran the head, else 0.
    public private(set) var lastLoss: Float = 0
    /// The head's logits of the last training forward that ran it.
    public private(set) var lastLogits: Tensor?

    private var ran = false
    private var headGradient: Tensor?
    private var inputGradient: Tensor?

    public init(head: Layer, loss: Loss, weight: Float = 0.3) {
        precondition(weight >= 0, "Auxiliary: weight \(weight) must not be negative")
        self.head = head
        self.loss = loss
        self.weight = weight
    }

    public var parameters: [Parameter] { head.parameters }
    public var sublayers: [Layer] { [head] }
    public var buffers: [Buffer] { head.buffers }

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] {
        do {
            _ = try head.outputShape(for: inputShape)
        } catch {
            throw error.inside("head")
        }
        return inputShape
    }

    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        ran = false
        lastLoss = 0
        guard mode == .training, let target else { return input }
        let logits = head.forward(input, mode: .training)
        let (l, g) = loss.evaluate(logits, target: target, weights: sampleWeights, normalizer: normalizer)
        lastLoss = weight * l
        lastLogits = logits
        let scaled = Tensor.reuse(&headGradient, shape: g.shape)
        let pg = g.data, ps = scaled.data, w = weight
        for i in 0..<g.count { ps[i] = w * pg[i] }
        ran = true
        return input
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard ran, let headGradient else { return outputGradient }
        let fromHead = head.backward(headGradient)
        let dx = Tensor.reuse(&inputGradient, shape: outputGradient.shape)
        Vector.add(outputGradient, fromHead, into: dx)
        return dx
    }
}
