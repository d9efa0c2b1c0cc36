// An LSTM encoder–decoder (Sutskever, Vinyals & Le, "Sequence to Sequence Learning with
// Neural Networks", 2014), optionally with attention over all encoder states (Luong et
// al. 2015, see Attention.swift).
//
// Input [N, S + T] of token ids (as Floats): the source, padded with id 0 after its end,
// then the decoder's input — the start marker and the target shifted right (teacher
// forcing). Output: logits [N, T, V] over the target vocabulary at every decoder step.
//
//   source ids → embedding → LSTM (stops at each source's end) → states e, final (h, c)
//   decoder ids → embedding → LSTM starting from the encoder's final (h, c) → states d
//   without attention: logits = W_o d_t + b_o
//   with attention:    logits = W_o tanh(W_c [Σ_s α_ts e_s ; d_t] + b_c) + b_o
//
// The gradient of the loss reaches the encoder through its final state (and through
// attention, through every state). State-dict names: `encoder.embedding.weight`,
// `encoder.lstm.weight_ih_l0` …, `decoder.embedding.weight`, `decoder.lstm.…`,
// `attention.weight`, `attention.combine.{weight,bias}`, `head.{weight,bias}`.
import PhalanxCore

public final class EncoderDecoder: Layer {
    public let kind = "EncoderDecoder"
    public let sourceSteps: Int
    public let targetSteps: Int
    public let hidden: Int
    public let sourceEmbedding: Embedding
    public let encoder: Recurrent
    public let targetEmbedding: Embedding
    public let decoder: Recurrent
    public let attention: Attention?
    public let head: Linear

    private let source = Tensor(shape: [0])
    private let decoderInput = Tensor(shape: [0])
    private let noEncoderGradient = Tensor(shape: [0])
    private var inputGradient: Tensor?
    /// Real source lengths of the last forward.
    public private(set) var sourceLengths: [Int] = []

    /// - Parameters: vocabulary sizes (id 0 of the source is padding), the longest source
    ///   S and decoder input T, embedding width, LSTM hidden size and layers, attention.
    public init(sourceVocabulary: Int, targetVocabulary: Int, sourceSteps: Int, targetSteps: Int,
                embedding: Int, hidden: Int, layers: Int = 1, attention: Bool, rng: inout RNG) {
        precondition(sourceSteps > 0 && targetSteps > 0, "EncoderDecoder: sequence lengths must be positive")
        self.sourceSteps = sourceSteps
        self.targetSteps = targetSteps
        self.hidden = hidden
        sourceEmbedding = Embedding(count: sourceVocabulary, width: embedding, rng: &rng)
        encoder = Recurrent(cell: .lstm, inputSize: embedding, hidden: hidden, layers: layers,
                            returnSequences: true, rng: &rng)
        targetEmbedding = Embedding(count: targetVocabulary, width: embedding, rng: &rng)
        decoder = Recurrent(cell: .lstm, inputSize: embedding, hidden: hidden, layers: layers,
                            returnSequences: true, rng: &rng)
        self.attention = attention ? Attention(hidden: hidden, rng: &rng) : nil
        head = Linear(inputs: hidden, outputs: targetVocabulary, rng: &rng)
        prefixNames(of: sourceEmbedding, with: "encoder.embedding")
        prefixNames(of: encoder, with: "encoder.lstm")
        prefixNames(of: targetEmbedding, with: "decoder.embedding")
        prefixNames(of: decoder, with: "decoder.lstm")
        for p in self.attention?.parameters ?? [] { p.name = "attention." + p.name }
        prefixNames(of: head, with: "head")
    }

    public var sublayers: [Layer] { [sourceEmbedding, encoder, targetEmbedding, decoder, head] }
    public var parameters: [Parameter] {
        sourceEmbedding.parameters + encoder.parameters + targetEmbedding.parameters + decoder.parameters
            + (attention?.parameters ?? []) + head.parameters
    }

    public func outputShape(for s: [Int]) throws(ShapeError) -> [Int] {
        guard s.count == 2, s[1] == sourceSteps + targetSteps else {
            throw ShapeError(kind: kind, "expects [N, \(sourceSteps) source + \(targetSteps) decoder ids], got \(describe(s))")
        }
        return [s[0], targetSteps, head.outputs]
    }

    /// The length of each source row: the steps before its first padding id (0).
    static func lengths(of ids: Tensor) -> [Int] {
        let N = ids.shape[0], S = ids.shape[1]
        return (0..<N).map { n in
            var len = 0
            while len < S && ids[n * S + len] != 0 { len += 1 }
            return len
        }
    }

    /// Encodes source ids [N, S]: the encoder's states [N, S, H] (owned by the encoder)
    /// and its final state per layer.
    private func encode(_ src: Tensor, mode: Mode) -> (states: Tensor, final: [RecurrentState]) {
        sourceLengths = Self.lengths(of: src)
        encoder.sequenceLengths = sourceLengths
        let states = encoder.forward(sourceEmbedding.forward(src, mode: mode), mode: mode)
        return (states, encoder.finalState())
    }

    /// Decoder states for decoder ids [N, T'] from `state`, then attention and the head.
    private func decode(_ ids: Tensor, from state: [RecurrentState], encoderStates: Tensor, mode: Mode) -> Tensor {
        decoder.initialState = state
        let d = decoder.forward(targetEmbedding.forward(ids, mode: mode), mode: mode)
        let a = attention?.forward(decoder: d, encoder: encoderStates, lengths: sourceLengths) ?? d
        return head.forward(a, mode: mode)
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        _ = checkedOutputShape(x)
        let N = x.shape[0], S = sourceSteps, T = targetSteps
        source.resize([N, S]); decoderInput.resize([N, T])
        for n in 0..<N {
            (source.data + n * S).update(from: x.data + n * (S + T), count: S)
            (decoderInput.data + n * T).update(from: x.data + n * (S + T) + S, count: T)
        }
        let (states, final) = encode(source, mode: mode)
        return decode(decoderInput, from: final, encoderStates: states, mode: mode)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let N = dy.shape[0]
        let dA = head.backward(dy)
        let dDecoder: Tensor, dEncoder: Tensor
        if let attention {
            attention.backward(dA)
            dDecoder = attention.decoderGradient
            dEncoder = attention.encoderGradient
        } else {
            noEncoderGradient.resize([N, sourceSteps, hidden])
            noEncoderGradient.zero()
            dDecoder = dA
            dEncoder = noEncoderGradient
        }
        _ = targetEmbedding.backward(decoder.backward(dDecoder))
        _ = sourceEmbedding.backward(encoder.backward(dEncoder, finalStateGradient: decoder.initialStateGradient))
        let dx = Tensor.reuse(&inputGradient, shape: [N, sourceSteps + targetSteps])
        dx.zero()
        return dx
    }

    /// Greedy decoding: for each source (ids without padding, at most S), the most likely
    /// token at each step fed back as the next input, from `start` until `end` (not
    /// included in the result) or `maxSteps` tokens.
    public func greedy(_ sources: [[Int32]], start: Int32, end: Int32, maxSteps: Int) -> [[Int32]] {
        let N = sources.count, S = sourceSteps, V = head.outputs
        guard N > 0 else { return [] }
        let src = Tensor(shape: [N, S])
        for (n, s) in sources.enumerated() {
            precondition(s.count <= S && !s.contains(0), "EncoderDecoder.greedy: a source of \(s.count) ids (at most \(S), none 0)")
            for (i, id) in s.enumerated() { src[n * S + i] = Float(id) }
        }
        var (states, state) = encode(src, mode: .evaluation)
        states = states.copy()
        let step = Tensor(shape: [N, 1])
        for n in 0..<N { step[n] = Float(start) }
        var out = Array(repeating: [Int32](), count: N)
        var done = Array(repeating: false, count: N)
        for _ in 0..<maxSteps where done.contains(false) {
            let logits = decode(step, from: state, encoderStates: states, mode: .evaluation)
            state = decoder.finalState()
            for n in 0..<N {
                var best = 0
                for v in 1..<V where logits[n * V + v] > logits[n * V + best] { best = v }
                step[n] = Float(best)
                if done[n] { continue }
                if Int32(best) == end { done[n] = true } else { out[n].append(Int32(best)) }
            }
        }
        return out
    }
}
