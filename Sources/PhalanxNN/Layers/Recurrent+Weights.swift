// The tensors of each layer and direction of a recurrent layer, for code that reads a
// trained network as a whole (an exporter) rather than running it.

/// The parameters of one direction of one layer of a `Recurrent`, in PyTorch's layout:
/// `weightIH` [G·H, in], `weightHH` [G·H, H], `biasIH`, `biasHH` [G·H] with the LSTM's
/// gates in the order i, f, g, o; `peephole` [3H] (into i, f, o) when the LSTM has them.
public struct RecurrentWeights {
    public let weightIH: Parameter
    public let weightHH: Parameter
    public let biasIH: Parameter
    public let biasHH: Parameter
    public let peephole: Parameter?
}

extension Recurrent {
    /// Weights by layer, then direction (forward first, then reverse when bidirectional).
    public var weights: [[RecurrentWeights]] {
        cores.map { layer in
            layer.map {
                RecurrentWeights(weightIH: $0.weightIH, weightHH: $0.weightHH, biasIH: $0.biasIH,
                                 biasHH: $0.biasHH, peephole: $0.peephole)
            }
        }
    }
}
