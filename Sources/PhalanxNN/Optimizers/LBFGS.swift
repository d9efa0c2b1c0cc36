// L-BFGS: a quasi-Newton method that keeps the last m curvature pairs instead of a
// Hessian.
//
// Liu & Nocedal, "On the limited memory BFGS method for large scale optimization"
// (Math. Programming 45, 1989); the two-loop recursion of Nocedal & Wright,
// "Numerical Optimization" (2006), Algorithm 7.4, with the initial matrix
// H₀ = (sᵀy / yᵀy)·I (eq. 7.20). With sₖ = θₖ₊₁ − θₖ and yₖ = ∇fₖ₊₁ − ∇fₖ, a pair enters
// the history only when sᵀy > 1e-10 (the curvature condition, which the strong-Wolfe
// line search guarantees). The first iteration steps min(1, 1/‖∇f‖₁)·lr along −∇f.
//
// As `torch.optim.LBFGS` (whose option names and defaults this follows: lr 1, max_iter
// 20, max_eval 1.25·max_iter, tolerance_grad 1e-7, tolerance_change 1e-9, history_size
// 100), one `step` runs up to max_iter iterations on the same objective and the
// history carries over to the next step. Without a line search (`line_search: none`)
// it takes fixed steps of lr. State: `lbfgs.direction`, `lbfgs.previous_gradient`,
// `lbfgs.s`, `lbfgs.y` ([pairs, n], oldest first) and, in the metadata, the last step
// size and H₀'s scale.
import PhalanxCore

/// Limited-memory BFGS over all trainable parameters as one vector.
public final class LBFGS: LineSearchOptimizer {
    override public var kind: String { "LBFGS" }
    /// m, the curvature pairs kept.
    public let historySize: Int

    private var direction: [Float] = []
    private var previousGradient: [Float] = []
    private var stepSize = 0.0
    private var hDiagonal = 1.0
    private var s: [[Float]] = []
    private var y: [[Float]] = []
    private var rho: [Double] = []

    /// L-BFGS with PyTorch's defaults; `lineSearch` nil takes fixed steps.
    public init(learningRate: Float = 1, historySize: Int = 100, maxIterations: Int = 20, maxEvaluations: Int? = nil,
                toleranceGrad: Double = 1e-7, toleranceChange: Double = 1e-9,
                lineSearch: StrongWolfe? = StrongWolfe(), regularization: Regularization = .none) {
        precondition(historySize >= 1, "LBFGS: history_size must be at least 1")
        self.historySize = historySize
        super.init(learningRate: learningRate, regularization: regularization, maxIterations: maxIterations,
                   maxEvaluations: maxEvaluations, toleranceGrad: toleranceGrad, toleranceChange: toleranceChange,
                   lineSearch: lineSearch)
    }

    /// The curvature pairs held now.
    public var historyCount: Int { s.count }

    @discardableResult
    override public func step(_ parameters: [Parameter], objective: Objective) throws -> Double {
        let start = try beginStep(parameters, objective)
        if start.done { return start.loss }
        let flat = start.flat, n = flat.count, atStart = start.atStart
        var loss = start.loss
        let first = loss
        var iteration = 0
        var yk = [Float](repeating: 0, count: n)
        while true {
            iteration += 1
            iterations += 1
            if direction.count != n || previousGradient.count != n {
                // The first iteration ever: steepest descent.
                direction = gradient.map { -$0 }
                hDiagonal = 1
                s = []; y = []; rho = []
            } else {
                Flat.difference(gradient, previousGradient, into: &yk)
                var sk = direction
                Flat.scale(&sk, by: stepSize)
                let ys = Flat.dot(yk, sk)
                if ys > 1e-10 {
                    if s.count == historySize { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                    s.append(sk); y.append(yk); rho.append(1 / ys)
                    hDiagonal = ys / Flat.dot(yk, yk)
                }
                twoLoop()
            }
            previousGradient = gradient
            let previousLoss = loss
            stepSize = iterations == 1 ? min(1, 1 / Flat.sumAbs(gradient)) * Double(learningRate) : Double(learningRate)
            let slope = Flat.dot(gradient, direction)
            if slope > -toleranceChange {
                converged = "directional derivative above -tolerance_change"
                break
            }
            if let lineSearch {
                (loss, stepSize) = try search(flat, objective, f0: loss, gradient: &gradient, direction: direction,
                                              initial: stepSize, search: lineSearch)
            } else {
                if origin.count != n { origin = [Float](repeating: 0, count: n) }
                flat.read(into: &origin)
                flat.move(from: origin, by: stepSize, along: direction)
                loss = try evaluate(flat, objective, gradient: &gradient)
            }
            if shouldStop(iteration: iteration, evaluationsAtStart: atStart, gradient: gradient, direction: direction,
                          stepSize: stepSize, loss: loss, previousLoss: previousLoss) { break }
        }
        return first
    }

    /// direction = −H·∇f by the two-loop recursion over the history.
    private func twoLoop() {
        var q = gradient.map { -$0 }
        var alpha = [Double](repeating: 0, count: s.count)
        for i in stride(from: s.count - 1, through: 0, by: -1) {
            alpha[i] = Flat.dot(s[i], q) * rho[i]
            Flat.axpy(-alpha[i], y[i], &q)
        }
        Flat.scale(&q, by: hDiagonal)
        for i in 0..<s.count {
            let beta = Flat.dot(y[i], q) * rho[i]
            Flat.axpy(alpha[i] - beta, s[i], &q)
        }
        direction = q
    }

    override public func stateTensors() -> [String: Tensor] {
        guard !direction.isEmpty else { return [:] }
        var out = ["lbfgs.direction": Flat.tensor(direction), "lbfgs.previous_gradient": Flat.tensor(previousGradient)]
        if !s.isEmpty {
            let n = direction.count
            for (name, rows) in [("lbfgs.s", s), ("lbfgs.y", y)] {
                let t = Tensor(shape: [rows.count, n])
                for (r, row) in rows.enumerated() { for i in 0..<n { t.data[r * n + i] = row[i] } }
                out[name] = t
            }
        }
        return out
    }

    override public func stateMetadata() -> [String: String] {
        var m = counterScalars("lbfgs")
        m.set("step_size", stepSize)
        m.set("h_diagonal", hDiagonal)
        return m.values
    }

    override public func loadState(_ tensors: [String: Tensor], metadata: [String: String], step: Int,
                                   parameters: [Parameter]) throws(OptimizerStateError) {
        guard step >= 0 else { throw .negativeStep(step) }
        let n = FlatParameters(parameters, regularization: regularization).count
        let names: Set = ["lbfgs.direction", "lbfgs.previous_gradient", "lbfgs.s", "lbfgs.y"]
        try rejectUnknown(tensors, known: names)
        let scalars = StateScalars(prefix: "lbfgs", values: metadata)
        guard !(tensors.isEmpty && step == 0) else {
            direction = []; previousGradient = []; s = []; y = []; rho = []
            stepCount = 0; iterations = 0; evaluations = 0; stepSize = 0; hDiagonal = 1
            return
        }
        let d = try vector(tensors, "lbfgs.direction", count: n)
        let g = try vector(tensors, "lbfgs.previous_gradient", count: n)
        var pairs: [[[Float]]] = [[], []]
        for (k, name) in ["lbfgs.s", "lbfgs.y"].enumerated() {
            guard let t = tensors[name] else { continue }
            guard t.shape.count == 2, t.shape[1] == n else {
                throw .shapeMismatch(name: name, expected: [t.shape.first ?? 0, n], found: t.shape)
            }
            let all = t.scalars
            pairs[k] = (0..<t.shape[0]).map { Array(all[($0 * n)..<(($0 + 1) * n)]) }
        }
        guard pairs[0].count == pairs[1].count else {
            throw .shapeMismatch(name: "lbfgs.y", expected: [pairs[0].count, n], found: [pairs[1].count, n])
        }
        let its = try scalars.int("iterations", optimizer: kind)
        let evals = try scalars.int("evaluations", optimizer: kind)
        let t = try scalars.double("step_size", optimizer: kind)
        let h = try scalars.double("h_diagonal", optimizer: kind)
        // A smaller history_size than the run saved keeps the newest pairs.
        let keep = max(0, pairs[0].count - historySize)
        direction = d; previousGradient = g
        s = Array(pairs[0].dropFirst(keep)); y = Array(pairs[1].dropFirst(keep))
        rho = zip(s, y).map { 1 / Flat.dot($1, $0) }
        iterations = its; evaluations = evals; stepSize = t; hDiagonal = h
        stepCount = step
    }
}
