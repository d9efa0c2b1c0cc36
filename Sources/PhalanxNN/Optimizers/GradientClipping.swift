// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_.
//
// Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural networks"
// (ICML 2013): when the L2 norm ‖g‖ of all gradients together exceeds a threshold c,
// rescale them to g·c/‖g‖, keeping the direction. As in PyTorch the factor is
// c / (‖g‖ + 1e-6), applied only when it is below 1. The norm is accumulated in Double.
// In data-parallel training it is applied after the gradients are averaged, so every
// rank clips identically. Left out: other p-norms.
import Foundation
import PhalanxCore

/// The L2 norm of the gradients of the trainable parameters taken as one vector.
public func gradientNorm(_ parameters: [Parameter]) -> Double {
    var sumOfSquares = 0.0
    for p in parameters where p.requiresGrad {
        sumOfSquares += Vector.sumOfSquares(p.gradient)
    }
    return sumOfSquares.squareRoot()
}

/// Rescales the gradients of the trainable parameters so that their global L2 norm is at
/// most `maxNorm`, and returns the norm they had before.
///
/// A non-finite norm (an overflowed or NaN gradient) is returned and the gradients are
/// left as they are, so the caller can see it and skip the step; PyTorch would multiply
/// them by NaN.
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    precondition(maxNorm > 0, "clipGradientNorm: maxNorm must be positive, got \(maxNorm)")
    let norm = gradientNorm(parameters)
    guard norm.isFinite else { return Float(norm) }
    let factor = Double(maxNorm) / (norm + 1e-6)
    if factor < 1 {
        let f = Float(factor)
        for p in parameters where p.requiresGrad {
            let g = p.gradient.data
            Parallel.forEach(p.count, grain: Vector.grain) { r in
                for i in r { g[i] *= f }
            }
        }
    }
    return Float(norm)
}
