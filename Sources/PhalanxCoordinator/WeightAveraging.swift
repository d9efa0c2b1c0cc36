// Averaging the weights of compatible checkpoints ("model soups", the average of a run's
// last checkpoints), and re-estimating batch-norm statistics for the averaged weights.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN
import PhalanxTraining

/// Why a set of checkpoints cannot be averaged.
public struct IncompatibleCheckpoints: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Weight averaging of state dicts with the same tensors.
public enum WeightAveraging {
    /// The weighted mean (equal weights by default) of every float tensor of `states`
    /// (name, tensors); integer buffers (`num_batches_tracked`) come from the first.
    /// Refuses, naming the first tensor (in sorted order) that is missing from a
    /// checkpoint, extra in one, or shaped differently.
    public static func average(_ states: [(name: String, tensors: SafeTensors)], weights: [Double]? = nil)
        throws(IncompatibleCheckpoints) -> SafeTensors {
        guard let (firstName, first) = states.first else { throw IncompatibleCheckpoints(message: "no checkpoints to average") }
        let w = weights ?? Array(repeating: 1, count: states.count)
        guard w.count == states.count, w.allSatisfy({ $0 >= 0 }), w.reduce(0, +) > 0 else {
            throw IncompatibleCheckpoints(message: "\(w.count) weights for \(states.count) checkpoints; they must be non-negative with a positive sum")
        }
        let names = first.names
        for (name, s) in states.dropFirst() {
            let theirs = Set(s.names)
            if let missing = names.first(where: { !theirs.contains($0) }) {
                throw IncompatibleCheckpoints(message: "\(name) has no tensor '\(missing)' (which \(firstName) has); "
                    + "only checkpoints of the same architecture can be averaged")
            }
            if let extra = s.names.first(where: { first.entries[$0] == nil }) {
                throw IncompatibleCheckpoints(message: "\(name) has a tensor '\(extra)' that \(firstName) lacks; "
                    + "only checkpoints of the same architecture can be averaged")
            }
            for n in names {
                let a = first.entries[n]!, b = s.entries[n]!
                if a.tensor.shape != b.tensor.shape || a.dtype != b.dtype {
                    throw IncompatibleCheckpoints(message: "tensor '\(n)' is \(a.dtype.rawValue) \(a.tensor.shape) in \(firstName) "
                        + "but \(b.dtype.rawValue) \(b.tensor.shape) in \(name)")
                }
            }
        }
        let total = w.reduce(0, +)
        var out = SafeTensors(metadata: first.metadata)
        for n in names {
            let entry = first.entries[n]!
            let t = Tensor(shape: entry.tensor.shape)
            if entry.dtype == .f32 {
                for ((_, s), wm) in zip(states, w) where wm > 0 {
                    let src = s.entries[n]!.tensor.data, scale = Float(wm / total)
                    for i in 0..<t.count { t.data[i] += scale * src[i] }
                }
            } else {
                t.data.update(from: entry.tensor.data, count: t.count)
            }
            out.entries[n] = .init(t, dtype: entry.dtype)
        }
        return out
    }

    /// Recomputes every batch norm's running mean and variance for the model's current
    /// weights from one pass over `dataset` in training mode, as a cumulative average
    /// over the batches (PyTorch's `swa_utils.update_bn`); the weights do not change.
    /// Returns the number of batch-norm layers (0: nothing to do, no pass made).
    @discardableResult
    public static func reestimateBatchNorm(_ model: Layer, on dataset: Dataset, normalization: NormalizationStats?,
                                           batchSize: Int = 256) throws -> Int {
        let norms = allLayers(of: model).compactMap { $0 as? BatchNorm }
        guard !norms.isEmpty else { return 0 }
        let saved = norms.map(\.momentum)
        for bn in norms {
            bn.runningMean.value.fill(0)
            bn.runningVar.value.fill(1)
            bn.numBatchesTracked.value.fill(0)
        }
        // Dropout stays as it is in training; its masks do not matter for the statistics' mean.
        var b = 0
        for batch in try EvaluationBatches(dataset: dataset, batchSize: batchSize, normalization: normalization)
            where batch.count > 1 {
            b += 1
            for bn in norms { bn.momentum = 1 / Float(b) }
            _ = model.forward(batch.images, mode: .training)
        }
        for (bn, m) in zip(norms, saved) { bn.momentum = m }
        return norms.count
    }
}
