// Times each top-level layer of a model, forward and backward, on random input —
// the `phalanx bench model` view of where a training step goes.
import Foundation
import PhalanxCore
import PhalanxNN

/// Per-layer time of one training step.
public struct LayerTiming: Sendable {
    public var name: String
    public var kind: String
    public var forwardMs: Double
    public var backwardMs: Double
}

/// Measures forward and backward time per layer of a model config.
public enum ModelProfile {
    /// Median per-layer times over `iterations` steps of batch `batch`, after warm-up.
    public static func run(_ config: ModelConfig, batch: Int, iterations: Int = 20, seed: UInt64 = 1) throws -> [LayerTiming] {
        let built = try ModelBuilder.build(config, seed: seed)
        let children = built.network.children
        var rng = RNG(seed: seed)
        let input = Tensor(shape: [batch] + config.input)
        rng.fillUniform(input, -1, 1)
        var fwd = [[Double]](repeating: [], count: children.count)
        var bwd = [[Double]](repeating: [], count: children.count)
        var outputs: [Tensor] = []
        for it in 0..<(iterations + 3) {
            outputs.removeAll(keepingCapacity: true)
            var x = input
            for (i, c) in children.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                x = c.layer.forward(x, mode: .training)
                if it >= 3 { fwd[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) }
                outputs.append(x)
            }
            let g = Tensor(shape: x.shape)
            rng.fillUniform(g, -0.01, 0.01)
            var dy = g
            for (i, c) in children.enumerated().reversed() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                dy = c.layer.backward(dy)
                if it >= 3 { bwd[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) }
            }
        }
        return children.enumerated().map { i, c in
            LayerTiming(name: c.name, kind: c.layer.kind, forwardMs: median(fwd[i]), backwardMs: median(bwd[i]))
        }
    }

    /// Inference images/s: the median time of a whole forward pass in evaluation mode
    /// (dropout off, batch norm on its running statistics) at batch `batch`, after warm-up.
    public static func inference(_ config: ModelConfig, batch: Int, iterations: Int = 20, seed: UInt64 = 1) throws -> Double {
        let built = try ModelBuilder.build(config, seed: seed)
        var rng = RNG(seed: seed)
        let input = Tensor(shape: [batch] + config.input)
        rng.fillUniform(input, -1, 1)
        var times: [Double] = []
        for it in 0..<(iterations + 3) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = built.network.forward(input, mode: .evaluation)
            if it >= 3 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
        }
        return Double(batch) / median(times)
    }

    static func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
}
