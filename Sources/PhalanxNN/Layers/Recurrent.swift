// Recurrent layers: a simple RNN (h = tanh(W_ih·x + b_ih + W_hh·h' + b_hh)) and an LSTM
// with input, forget and output gates and optional peephole connections, stacked and
// bidirectional, trained by backpropagation through time inside `backward`.
//
// Tensors, names and gate order are PyTorch's (`nn.LSTM`, `nn.RNN`, batch_first = true):
// `weight_ih_l0` [G·H, in], `weight_hh_l0` [G·H, H], `bias_ih_l0`, `bias_hh_l0` [G·H],
// with G = 4 gates in the order i, f, g, o for the LSTM (G = 1 for the RNN), the second
// layer `_l1`, the backward direction `_reverse`. Peepholes (Gers & Schmidhuber, 2000),
// which PyTorch lacks, are `weight_peephole_l0` [3H]: the cell's weights into i and f
// (from c_{t−1}) and into o (from c_t); a checkpoint without peepholes loads into
// nn.LSTM as it is.
//
// Input [N, T, F] (batch first), or [N, 1, T, F] — an image read row by row. Output
// [N, T, D·H] with `returnSequences` (D = 2 when bidirectional), else the final hidden
// state [N, D·H]: the forward direction after step T, the backward one after step 1
// (PyTorch's h_n). Inside, everything is time-major [T, N, ·], so each step's rows are
// contiguous; the input projection of all steps is one GEMM, each step one more.
import Foundation
import PhalanxCore

/// The cell a recurrent layer runs.
public enum RecurrentCell: String, Sendable, CaseIterable {
    case rnn
    case lstm

    var gates: Int { self == .lstm ? 4 : 1 }
}

/// One direction of one layer over a time-major sequence [T, N, F] → [T, N, H].
final class RecurrentCore {
    let cell: RecurrentCell
    let inputSize: Int
    let hidden: Int
    let reverse: Bool
    let weightIH: Parameter
    let weightHH: Parameter
    let biasIH: Parameter
    let biasHH: Parameter
    let peephole: Parameter?

    private var input: Tensor?
    /// Gate activations after their nonlinearity [T, N, G·H] (RNN: h itself).
    private var acts = Tensor(shape: [0])
    private var cells = Tensor(shape: [0])
    private var tanhCells = Tensor(shape: [0])
    let hs = Tensor(shape: [0])
    private var dActs = Tensor(shape: [0])
    private let dhNext = Tensor(shape: [0])
    private let dcNext = Tensor(shape: [0])
    private let dh = Tensor(shape: [0])
    let inputGradient = Tensor(shape: [0])
    /// W_hh packed for the per-step products: as W_hhᵀ (forward), as W_hh (backward).
    private let packedForward = PackedMatrix()
    private let packedBackward = PackedMatrix()
    /// The state before the first step ([N, H]; nil: zeros). Truncated BPTT sets it to the
    /// previous chunk's final state (no gradient flows back into it); an encoder–decoder
    /// sets the encoder's final state and reads its gradient (`dhNext`, `dcNext` after
    /// backward).
    var initialH: Tensor?
    var initialC: Tensor?
    /// Real length of each sequence (nil: all T steps): at steps t ≥ lengths[n] the state
    /// passes through unchanged, so the state after the last step is that after the
    /// sequence's own last step, and (reversed) the first real step starts from the
    /// initial state. Outputs at those steps repeat the state.
    var lengths: [Int]?
    /// Gradients with respect to the initial state after `backward` ([N, H]).
    var initialHGradient: Tensor { dhNext }
    var initialCGradient: Tensor { dcNext }

    init(cell: RecurrentCell, inputSize: Int, hidden: Int, layer: Int, reverse: Bool, peephole: Bool, rng: inout RNG) {
        self.cell = cell
        self.inputSize = inputSize
        self.hidden = hidden
        self.reverse = reverse
        let g = cell.gates * hidden, suffix = "_l\(layer)" + (reverse ? "_reverse" : "")
        // PyTorch's initialisation: every tensor uniform in ±1/√H.
        let bound = 1 / Float(hidden).squareRoot()
        func make(_ name: String, _ shape: [Int], decays: Bool) -> Parameter {
            let t = Tensor(shape: shape)
            rng.fillUniform(t, -bound, bound)
            return Parameter(name: name + suffix, value: t, decays: decays)
        }
        weightIH = make("weight_ih", [g, inputSize], decays: true)
        weightHH = make("weight_hh", [g, hidden], decays: true)
        biasIH = make("bias_ih", [g], decays: false)
        biasHH = make("bias_hh", [g], decays: false)
        self.peephole = (peephole && cell == .lstm) ? make("weight_peephole", [3 * hidden], decays: true) : nil
    }

    var parameters: [Parameter] { [weightIH, weightHH, biasIH, biasHH] + (peephole.map { [$0] } ?? []) }

    /// The time index of processing step s.
    @inline(__always) private func time(_ s: Int, _ steps: Int) -> Int { reverse ? steps - 1 - s : s }

    /// x [T, N, F] → h [T, N, H] (the returned tensor is `hs`).
    func forward(_ x: Tensor) -> Tensor {
        let T = x.shape[0], N = x.shape[1], F = inputSize, H = hidden, G = cell.gates * H
        input = x
        acts.resize([T, N, G])
        hs.resize([T, N, H])
        if cell == .lstm {
            cells.resize([T, N, H])
            tanhCells.resize([T, N, H])
        }
        // Input projection of every step at once, both biases added.
        let pa = acts.data, bi = biasIH.value.data, bh = biasHH.value.data
        for j in 0..<G { pa[j] = bi[j] + bh[j] }
        for r in stride(from: 1, to: T * N, by: 1) { (pa + r * G).update(from: pa, count: G) }
        BLAS.gemm(transB: true, m: T * N, n: G, k: F, x.data, weightIH.value.data, beta: 1, pa, parallel: true)
        let whh = weightHH.value.data, ph = hs.data, pc = cells.data, ptc = tanhCells.data
        let peep = peephole?.value.data
        packedForward.pack(whh, ldb: H, transposed: true, rows: H, columns: G)
        let h0 = initialH?.data, c0 = initialC?.data
        // Sequences are independent: each task runs every step for its own rows, so the
        // cores meet once per layer rather than at every step, and the results do not
        // depend on how the rows are split (every product sums in the same order).
        Parallel.forEach(N, grain: Self.rowGrain) { rows in
            let n0 = rows.lowerBound, m = rows.count
            for s in 0..<T {
                let t = time(s, T)
                let a = pa + (t * N + n0) * G
                let prev: Int? = s > 0 ? time(s - 1, T) : nil
                let hPrev: UnsafeMutablePointer<Float>? = prev.map { ph + $0 * N * H } ?? h0
                if let hPrev {
                    packedForward.multiply(hPrev + n0 * H, lda: H, m: m, into: a, ldc: G, accumulate: true, parallel: false)
                }
                let h = ph + (t * N + n0) * H
                let cPrev: UnsafeMutablePointer<Float>? = prev.map { pc + $0 * N * H } ?? c0
                switch cell {
                case .rnn:
                    Vector.tanh(a, a, count: m * H)
                    h.update(from: a, count: m * H)
                case .lstm:
                    LSTMCell.forward(a, cPrev: cPrev.map { $0 + n0 * H }, peephole: peep, c: pc + (t * N + n0) * H,
                                     tanhC: ptc + (t * N + n0) * H, h: h, rows: m, hidden: H)
                }
                if let lengths {
                    // Padded steps keep the state they were given.
                    for n in rows where t >= lengths[n] {
                        let hn = ph + (t * N + n) * H
                        if let hPrev { hn.update(from: hPrev + n * H, count: H) } else { hn.update(repeating: 0, count: H) }
                        if cell == .lstm {
                            let cn = pc + (t * N + n) * H
                            if let cPrev { cn.update(from: cPrev + n * H, count: H) } else { cn.update(repeating: 0, count: H) }
                        }
                    }
                }
            }
        }
        return hs
    }

    /// Sequences per task of the step loops.
    static let rowGrain = 8

    /// c after the last processed step (LSTM).
    func finalCell(steps T: Int, batch N: Int) -> UnsafeMutablePointer<Float> {
        cells.data + time(T - 1, T) * N * hidden
    }

    /// dL/dh [T, N, H] → dL/dx [T, N, F] (`inputGradient`); accumulates parameter gradients.
    /// `finalH`, `finalC`: gradients with respect to the state after the last step, when
    /// it is used elsewhere (an encoder's state handed to a decoder).
    func backward(_ dH: Tensor, finalH: Tensor? = nil, finalC: Tensor? = nil) -> Tensor {
        guard let x = input else { preconditionFailure("RecurrentCore.backward before forward") }
        let T = x.shape[0], N = x.shape[1], F = inputSize, H = hidden, G = cell.gates * H
        dActs.resize([T, N, G])
        dhNext.resize([N, H]); dhNext.zero()
        dcNext.resize([N, H]); dcNext.zero()
        if let finalH { dhNext.data.update(from: finalH.data, count: N * H) }
        if let finalC, cell == .lstm { dcNext.data.update(from: finalC.data, count: N * H) }
        dh.resize([N, H])
        let pa = acts.data, pd = dActs.data, pdH = dH.data, ph = hs.data, pc = cells.data, ptc = tanhCells.data
        let dhn = dhNext.data, dcn = dcNext.data, pdh = dh.data
        let peep = peephole?.value.data, dPeep = peephole?.gradient.data
        let dWhh = weightHH.gradient.data
        if T > 1 || initialH != nil {
            packedBackward.pack(weightHH.value.data, ldb: H, transposed: false, rows: G, columns: H)
        }
        let hasInitial = initialH != nil, c0 = initialC?.data
        // Each task runs back through every step for its own rows (as forward); with
        // peepholes one task, since their gradient sums over the rows in order.
        Parallel.forEach(N, grain: peep == nil ? Self.rowGrain : N) { rows in
            let n0 = rows.lowerBound, m = rows.count
            for s in stride(from: T - 1, through: 0, by: -1) {
                let t = time(s, T)
                let prev: Int? = s > 0 ? time(s - 1, T) : nil
                let a = pa + (t * N + n0) * G, da = pd + (t * N + n0) * G
                let dht = pdh + n0 * H, dhnt = dhn + n0 * H, dHt = pdH + (t * N + n0) * H
                for i in 0..<(m * H) { dht[i] = dHt[i] + dhnt[i] }
                switch cell {
                case .rnn:
                    for i in 0..<(m * H) { da[i] = dht[i] * (1 - a[i] * a[i]) }
                case .lstm:
                    let cPrev: UnsafeMutablePointer<Float>? = prev.map { pc + $0 * N * H } ?? c0
                    var n = n0
                    while n < rows.upperBound {
                        // A run of rows that are real at step t (padded rows: dc passes through).
                        if let lengths, t >= lengths[n] { n += 1; continue }
                        var end = n + 1
                        while end < rows.upperBound, lengths.map({ t < $0[end] }) ?? true { end += 1 }
                        LSTMCell.backward(gates: pa + (t * N + n) * G, cPrev: cPrev.map { UnsafePointer($0 + n * H) },
                                          c: pc + (t * N + n) * H, tanhC: ptc + (t * N + n) * H, dh: pdh + n * H,
                                          dc: dcn + n * H, peephole: peep, dPeephole: dPeep, da: pd + (t * N + n) * G,
                                          rows: end - n, hidden: H)
                        n = end
                    }
                }
                if let lengths {
                    // A padded step passed its state through: no gate gradients, dc unchanged.
                    for n in rows where t >= lengths[n] { (pd + (t * N + n) * G).update(repeating: 0, count: G) }
                }
                if prev != nil || hasInitial {
                    // dh_{prev} = dA·W_hh (dW_hh after the loop). For the initial state this
                    // is its gradient (dhNext, dcNext after the loop), which truncated BPTT
                    // ignores and an encoder–decoder passes on.
                    packedBackward.multiply(da, lda: G, m: m, into: dhnt, ldc: H, accumulate: false, parallel: false)
                    if let lengths {
                        for n in rows where t >= lengths[n] { (dhn + n * H).update(from: pdh + n * H, count: H) }
                    }
                }
            }
        }
        // dW_hh += Σ_t dA_tᵀ·h_{t−1}: steps are contiguous in time, so one GEMM over the T − 1
        // steps that have a predecessor (forward: dA[1…] with h[…T−2]; reversed: dA[…T−2]
        // with h[1…]), and one for the initial state's step.
        if T > 1 {
            let (dStart, hStart) = reverse ? (0, 1) : (1, 0)
            BLAS.gemm(transA: true, m: G, n: H, k: (T - 1) * N, pd + dStart * N * G, ph + hStart * N * H,
                      beta: 1, dWhh, parallel: true)
        }
        if let h0 = initialH {
            BLAS.gemm(transA: true, m: G, n: H, k: N, pd + time(0, T) * N * G, h0.data, beta: 1, dWhh)
        }
        // Input projection of every step: dW_ih += dAᵀ·X, dx = dA·W_ih, biases Σ dA.
        BLAS.gemm(transA: true, m: G, n: F, k: T * N, pd, x.data, beta: 1, weightIH.gradient.data, parallel: true)
        inputGradient.resize([T, N, F])
        BLAS.gemm(m: T * N, n: F, k: G, pd, weightIH.value.data, inputGradient.data, parallel: true)
        Vector.sumRows(pd, rows: T * N, columns: G, into: biasIH.gradient.data)
        Vector.sumRows(pd, rows: T * N, columns: G, into: biasHH.gradient.data)
        return inputGradient
    }
}

/// The state of one recurrent layer: h and (LSTM) c, each [N, H]; c is zeros for an RNN.
public struct RecurrentState {
    public let h: Tensor
    public let c: Tensor
    public init(h: Tensor, c: Tensor) { self.h = h; self.c = c }
}

/// A stacked, optionally bidirectional RNN or LSTM over batch-first sequences.
public final class Recurrent: Layer {
    public var kind: String { cell == .lstm ? "LSTM" : "RNN" }
    public let cell: RecurrentCell
    public let inputSize: Int
    public let hidden: Int
    public let layers: Int
    public let bidirectional: Bool
    /// Output every step [N, T, D·H] (true) or the final hidden state [N, D·H].
    public let returnSequences: Bool
    /// Truncated BPTT: each forward starts the forward direction of every layer from the
    /// state the previous forward ended in (same batch size), instead of zeros; backward
    /// stops at the chunk's start. `resetState()` starts over (a new sequence).
    public var carryState = false
    /// Real lengths of the batch's sequences (nil: every sequence has all T steps). Steps
    /// past a sequence's end leave its state unchanged (what PyTorch's packed sequences
    /// give for h_n); the outputs there repeat the last real state, for the loss or the
    /// attention to mask.
    public var sequenceLengths: [Int]?
    /// The state every layer's forward direction starts from (one per layer, [N, H]),
    /// with its gradient in `initialStateGradient` after backward — how a decoder starts
    /// from its encoder's final state. Unidirectional layers only; nil: zeros (or the
    /// carried state).
    public var initialState: [RecurrentState]?
    /// dLoss/d`initialState` after the last backward.
    public private(set) var initialStateGradient: [RecurrentState] = []
    /// Final (h, c) of the last forward per layer, waiting to become the next initial state.
    var pendingState: [(h: Tensor, c: Tensor)?] = []
    /// cores[layer][direction]
    let cores: [[RecurrentCore]]

    private let timeMajor = Tensor(shape: [0])
    private var layerOutputs: [Tensor] = []
    private var output: Tensor?
    private let gradientTimeMajor = Tensor(shape: [0])
    private var directionGradients: [Tensor] = []
    private var inputGradient: Tensor?
    private var lastInputShape: [Int] = []

    public init(cell: RecurrentCell, inputSize: Int, hidden: Int, layers: Int = 1, bidirectional: Bool = false,
                peephole: Bool = false, returnSequences: Bool = false, rng: inout RNG) {
        precondition(inputSize > 0 && hidden > 0 && layers > 0, "Recurrent: sizes must be positive")
        self.cell = cell
        self.inputSize = inputSize
        self.hidden = hidden
        self.layers = layers
        self.bidirectional = bidirectional
        self.returnSequences = returnSequences
        let directions = bidirectional ? 2 : 1
        cores = (0..<layers).map { l in
            (0..<directions).map { d in
                RecurrentCore(cell: cell, inputSize: l == 0 ? inputSize : directions * hidden, hidden: hidden,
                              layer: l, reverse: d == 1, peephole: peephole, rng: &rng)
            }
        }
        layerOutputs = (0..<layers).map { _ in Tensor(shape: [0]) }
        pendingState = Array(repeating: nil, count: layers)
        directionGradients = (0..<directions).map { _ in Tensor(shape: [0]) }
    }

    public var parameters: [Parameter] { cores.flatMap { $0.flatMap(\.parameters) } }

    /// Forgets the carried state: the next forward starts from zeros.
    public func resetState() {
        pendingState = Array(repeating: nil, count: layers)
        for l in 0..<layers { cores[l][0].initialH = nil; cores[l][0].initialC = nil }
    }

    private var directions: Int { bidirectional ? 2 : 1 }

    /// (N, T, F) of an input shape, or nil.
    private func sequenceShape(_ s: [Int]) -> (Int, Int, Int)? {
        if s.count == 3 { return (s[0], s[1], s[2]) }
        if s.count == 4 && s[1] == 1 { return (s[0], s[2], s[3]) }
        return nil
    }

    public func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] {
        guard let (n, t, f) = sequenceShape(inputShape) else {
            throw ShapeError(kind: kind, "expects input [N, T, F] (or [N, 1, T, F], an image read row by row), got \(describe(inputShape))")
        }
        guard f == inputSize else {
            throw ShapeError(kind: kind, "expects \(inputSize) features per step, got \(f) in \(describe(inputShape))")
        }
        guard t > 0 else { throw ShapeError(kind: kind, "needs at least one time step") }
        return returnSequences ? [n, t, directions * hidden] : [n, directions * hidden]
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let shape = checkedOutputShape(x)
        lastInputShape = x.shape
        let (N, T, F) = sequenceShape(x.shape)!
        // [N, T, F] → [T, N, F]
        timeMajor.resize([T, N, F])
        transposeSequence(x.data, into: timeMajor.data, outer: N, inner: T, width: F)
        var current = timeMajor
        let D = directions, H = hidden
        if let lengths = sequenceLengths {
            precondition(lengths.count == N && lengths.allSatisfy { $0 >= 0 && $0 <= T },
                         "\(kind): \(lengths.count) sequence lengths for a batch of \(N) sequences of \(T) steps")
        }
        if let s = initialState {
            precondition(!bidirectional && s.count == layers && s.allSatisfy { $0.h.shape == [N, H] && $0.c.shape == [N, H] },
                         "\(kind): an initial state is one [N, H] pair per layer of a unidirectional layer")
        }
        for l in 0..<layers {
            let core = cores[l][0]
            for c in cores[l] { c.lengths = sequenceLengths }
            if let s = initialState {
                core.initialH = s[l].h
                core.initialC = cell == .lstm ? s[l].c : nil
            } else if carryState, let p = pendingState[l], p.h.shape == [N, H] {
                core.initialH = p.h
                core.initialC = cell == .lstm ? p.c : nil
            } else {
                core.initialH = nil
                core.initialC = nil
            }
            let outs = cores[l].map { $0.forward(current) }
            if carryState {
                // The forward direction's state after the last step, for the next chunk.
                let h = Tensor(shape: [N, H]), c = Tensor(shape: [N, H])
                h.data.update(from: core.hs.data + (T - 1) * N * H, count: N * H)
                if cell == .lstm { c.data.update(from: core.finalCell(steps: T, batch: N), count: N * H) }
                pendingState[l] = (h, c)
            }
            if D == 1 {
                current = outs[0]
            } else {
                let joined = layerOutputs[l]
                joined.resize([T, N, 2 * H])
                let pj = joined.data, pf = outs[0].data, pb = outs[1].data
                for r in 0..<(T * N) {
                    (pj + r * 2 * H).update(from: pf + r * H, count: H)
                    (pj + r * 2 * H + H).update(from: pb + r * H, count: H)
                }
                current = joined
            }
        }
        let y = Tensor.reuse(&output, shape: shape)
        if returnSequences {
            transposeSequence(current.data, into: y.data, outer: T, inner: N, width: D * H)
        } else {
            // h_n: forward direction at the last step, backward direction at the first.
            let top = cores[layers - 1]
            for n in 0..<N {
                (y.data + n * D * H).update(from: top[0].hs.data + ((T - 1) * N + n) * H, count: H)
                if D == 2 { (y.data + n * D * H + H).update(from: top[1].hs.data + n * H, count: H) }
            }
        }
        return y
    }

    /// Each layer's state after the last forward (forward direction, after step T, or
    /// after each sequence's own last step with `sequenceLengths`), as copies.
    public func finalState() -> [RecurrentState] {
        let (N, T, _) = sequenceShape(lastInputShape)!
        let H = hidden
        return (0..<layers).map { l in
            let core = cores[l][0]
            let h = Tensor(shape: [N, H]), c = Tensor(shape: [N, H])
            h.data.update(from: core.hs.data + (T - 1) * N * H, count: N * H)
            if cell == .lstm { c.data.update(from: core.finalCell(steps: T, batch: N), count: N * H) }
            return RecurrentState(h: h, c: c)
        }
    }

    public func backward(_ dy: Tensor) -> Tensor {
        backward(dy, finalStateGradient: nil)
    }

    /// Backward with gradients arriving also at `finalState()` (one per layer).
    public func backward(_ dy: Tensor, finalStateGradient: [RecurrentState]?) -> Tensor {
        let (N, T, F) = sequenceShape(lastInputShape)!
        let D = directions, H = hidden
        // dL/d(top layer output) time-major [T, N, D·H].
        gradientTimeMajor.resize([T, N, D * H])
        if returnSequences {
            transposeSequence(dy.data, into: gradientTimeMajor.data, outer: N, inner: T, width: D * H)
        } else {
            gradientTimeMajor.zero()
            for n in 0..<N {
                (gradientTimeMajor.data + ((T - 1) * N + n) * D * H).update(from: dy.data + n * D * H, count: H)
                if D == 2 { (gradientTimeMajor.data + n * D * H + H).update(from: dy.data + n * D * H + H, count: H) }
            }
        }
        var g = gradientTimeMajor
        if let f = finalStateGradient { precondition(D == 1 && f.count == layers, "\(kind): one final-state gradient per layer") }
        var initialGradients: [RecurrentState] = []
        for l in stride(from: layers - 1, through: 0, by: -1) {
            if D == 1 {
                let f = finalStateGradient?[l]
                g = cores[l][0].backward(g, finalH: f?.h, finalC: f?.c)
                if initialState != nil {
                    let h = Tensor(shape: [N, H]), c = Tensor(shape: [N, H])
                    h.data.update(from: cores[l][0].initialHGradient.data, count: N * H)
                    if cell == .lstm { c.data.update(from: cores[l][0].initialCGradient.data, count: N * H) }
                    initialGradients.insert(RecurrentState(h: h, c: c), at: 0)
                }
            } else {
                // Split [T, N, 2H] into the two directions, run each back, add their input gradients.
                for d in 0..<2 {
                    let part = directionGradients[d]
                    part.resize([T, N, H])
                    for r in 0..<(T * N) { (part.data + r * H).update(from: g.data + r * 2 * H + d * H, count: H) }
                }
                let a = cores[l][0].backward(directionGradients[0])
                let b = cores[l][1].backward(directionGradients[1])
                Vector.accumulate(b, into: a)
                g = a
            }
        }
        initialStateGradient = initialGradients
        let dx = Tensor.reuse(&inputGradient, shape: lastInputShape)
        transposeSequence(g.data, into: dx.data, outer: T, inner: N, width: F)
        return dx
    }
}

/// [outer, inner, width] → [inner, outer, width].
private func transposeSequence(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                               outer: Int, inner: Int, width: Int) {
    for o in 0..<outer {
        for i in 0..<inner {
            (dst + (i * outer + o) * width).update(from: src + (o * inner + i) * width, count: width)
        }
    }
}
