import Foundation
import PhalanxCore
@testable import PhalanxNN
import Testing

/// f(θ) = ½θᵀAθ − bᵀθ with A symmetric positive definite: minimum θ* = A⁻¹b.
private struct Quadratic {
    let a: [[Double]], b: [Double]
    let theta: Parameter

    /// A fixed well-conditioned 5×5 SPD matrix (eigenvalues 1…~9) and b.
    init(start: [Float] = [0, 0, 0, 0, 0]) {
        let m: [[Double]] = [[4, 1, 0, 0.5, 0], [1, 3, 0.5, 0, 0], [0, 0.5, 2, 0, 0.3],
                             [0.5, 0, 0, 5, 1], [0, 0, 0.3, 1, 6]]
        a = m
        b = [1, -2, 3, 0.5, -1]
        theta = Parameter(name: "theta", value: Tensor(shape: [5], values: start))
    }

    /// The objective: f and ∇f into the parameter's gradient.
    func objective() -> Double {
        let x = theta.value.scalars.map(Double.init)
        var f = 0.0
        for i in 0..<5 {
            let ax = (0..<5).reduce(0.0) { $0 + a[i][$1] * x[$1] }
            theta.gradient.data[i] = Float(ax - b[i])
            f += 0.5 * x[i] * ax - b[i] * x[i]
        }
        return f
    }

    /// θ* by Gaussian elimination in Double.
    var minimum: [Double] {
        var m = a, r = b
        for c in 0..<5 {
            for k in (c + 1)..<5 {
                let f = m[k][c] / m[c][c]
                for j in c..<5 { m[k][j] -= f * m[c][j] }
                r[k] -= f * r[c]
            }
        }
        var x = [Double](repeating: 0, count: 5)
        for i in stride(from: 4, through: 0, by: -1) {
            x[i] = (r[i] - ((i + 1)..<5).reduce(0.0) { $0 + m[i][$1] * x[$1] }) / m[i][i]
        }
        return x
    }
}

/// Rosenbrock's f(x, y) = (1 − x)² + 100(y − x²)², minimum at (1, 1), from (−1.2, 1).
private final class Rosenbrock {
    let theta = Parameter(name: "xy", value: Tensor(shape: [2], values: [-1.2, 1]))
    func objective() -> Double {
        let x = Double(theta.value.data[0]), y = Double(theta.value.data[1])
        theta.gradient.data[0] = Float(-2 * (1 - x) - 400 * x * (y - x * x))
        theta.gradient.data[1] = Float(200 * (y - x * x))
        return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x)
    }
}

private func distance(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
}

@Suite struct SecondOrderTests {
    // MARK: Known minima

    @Test func lbfgsFindsTheMinimumOfAQuadratic() throws {
        let q = Quadratic()
        let lbfgs = LBFGS(maxIterations: 50)
        try lbfgs.step([q.theta]) { q.objective() }
        #expect(distance(q.theta.value.scalars, q.minimum) < 1e-4)
        #expect(lbfgs.converged != nil)
    }

    @Test func newtonSolvesAQuadraticInOneIteration() throws {
        let q = Quadratic(start: [3, -1, 2, 0.5, 1])
        let newton = NewtonCG(cgTolerance: 1e-7, maxIterations: 1)
        try newton.step([q.theta]) { q.objective() }
        #expect(newton.iterations == 1)
        // One Newton step from any start: only rounding of the finite differences remains.
        #expect(distance(q.theta.value.scalars, q.minimum) < 1e-3)
        #expect(newton.hessianProducts <= 6)  // n products, one more for rounding
    }

    @Test func conjugateGradientSolvesAQuadraticInAtMostNIterations() throws {
        let q = Quadratic(start: [1, 1, 1, 1, 1])
        // A near-exact line search makes nonlinear CG the linear method.
        let cg = ConjugateGradient(maxIterations: 5, maxEvaluations: 200, lineSearch: StrongWolfe(c2: 1e-3, maxEvaluations: 40))
        try cg.step([q.theta]) { q.objective() }
        #expect(cg.iterations <= 5)
        #expect(distance(q.theta.value.scalars, q.minimum) < 1e-3)
    }

    @Test(arguments: ["lbfgs", "cg", "newton"])
    func rosenbrock(_ method: String) throws {
        let r = Rosenbrock()
        let optimizer: ClosureOptimizer = switch method {
        case "lbfgs": LBFGS(maxIterations: 200, maxEvaluations: 400)
        case "cg": ConjugateGradient(maxIterations: 2000, maxEvaluations: 8000)
        default: NewtonCG(maxIterations: 200)
        }
        try optimizer.step([r.theta]) { r.objective() }
        let xy = r.theta.value.scalars
        #expect(abs(xy[0] - 1) < 2e-3 && abs(xy[1] - 1) < 4e-3, "\(method) ended at \(xy) after \(optimizer.iterations) iterations: \(optimizer.converged ?? "limit")")
        #expect(r.objective() < 1e-5)
    }

    @Test func l2PenaltyEntersObjectiveAndGradient() throws {
        // Data loss ½‖θ − c‖² with λ₂‖θ‖²: the minimum is c / (1 + 2λ₂).
        let theta = Parameter(name: "w", value: Tensor(shape: [3], values: [0, 0, 0]))
        let c: [Float] = [1, -2, 4], lambda: Float = 0.25
        let lbfgs = LBFGS(regularization: .l2(lambda))
        let f0 = try lbfgs.step([theta]) {
            var f = 0.0
            for i in 0..<3 {
                let r = theta.value.data[i] - c[i]
                theta.gradient.data[i] = r
                f += 0.5 * Double(r * r)
            }
            return f
        }
        #expect(abs(f0 - 10.5) < 1e-9)
        expectClose(theta.value.scalars, c.map { $0 / (1 + 2 * lambda) }, tolerance: 1e-5)
    }

    // MARK: Hand-computed updates

    @Test func lbfgsWithoutLineSearchMatchesHandComputedSteps() throws {
        // Two fixed steps of lr 0.1 on the quadratic from θ₀ = 0: the first along
        // −min(1, 1/‖g‖₁)·g, the second along −H₁g with H₁ the BFGS update of
        // H₀ = (sᵀy / yᵀy)·I, all in Double.
        let q = Quadratic()
        let lbfgs = LBFGS(learningRate: 0.1, maxIterations: 2, maxEvaluations: 3, toleranceChange: 0, lineSearch: nil)
        try lbfgs.step([q.theta]) { q.objective() }

        func grad(_ x: [Double]) -> [Double] { (0..<5).map { i in (0..<5).reduce(-q.b[i]) { $0 + q.a[i][$1] * x[$1] } } }
        let x0 = [Double](repeating: 0, count: 5)
        let g0 = grad(x0)
        let t0 = min(1, 1 / g0.reduce(0) { $0 + abs($1) }) * 0.1
        let x1 = zip(x0, g0).map { $0 - t0 * $1 }
        let g1 = grad(x1)
        let s = zip(x1, x0).map { $0 - $1 }, y = zip(g1, g0).map { $0 - $1 }
        let ys = zip(y, s).reduce(0) { $0 + $1.0 * $1.1 }, yy = y.reduce(0) { $0 + $1 * $1 }
        let rho = 1 / ys, gamma = ys / yy
        // H₁g = γ(I − ρsyᵀ)(I − ρysᵀ)g + ρs(sᵀg).
        let sg = zip(s, g1).reduce(0) { $0 + $1.0 * $1.1 }
        let v = zip(g1, y).map { $0 - rho * sg * $1 }                     // (I − ρysᵀ)g
        let yv = zip(y, v).reduce(0) { $0 + $1.0 * $1.1 }
        let hg = (0..<5).map { gamma * (v[$0] - rho * s[$0] * yv) + rho * s[$0] * sg }
        let x2 = zip(x1, hg).map { $0 - 0.1 * $1 }
        #expect(distance(q.theta.value.scalars, x2) < 1e-6)
        #expect(lbfgs.iterations == 2 && lbfgs.evaluations == 3 && lbfgs.historyCount == 1)
    }

    // MARK: Line search

    @Test(arguments: [0.01, 1, 30])
    func strongWolfeStepSatisfiesBothConditions(initial: Double) {
        // φ(t) = f(θ₀ + t·d) for f(x) = x⁴ − 3x² + x from x₀ = 2 along d = −1.
        func phi(_ t: Double) -> (f: Double, slope: Double) {
            let x = 2 - t
            return (x * x * x * x - 3 * x * x + x, -(4 * x * x * x - 6 * x + 1))
        }
        let search = StrongWolfe(c1: 1e-4, c2: 0.5)
        let (f0, s0) = phi(0)
        let result = search.search(f0: f0, slope0: s0, initial: initial, directionMax: 1, phi: phi)
        let p = result.point
        #expect(result.satisfiesWolfe)
        #expect(p.f <= f0 + 1e-4 * p.t * s0)
        #expect(abs(p.slope) <= 0.5 * abs(s0))
        #expect(p == StrongWolfe.Point(t: p.t, f: phi(p.t).f, slope: phi(p.t).slope))
        #expect(result.evaluations <= 25)
    }

    @Test func cubicInterpolationIsExactOnAQuadratic() {
        // φ(t) = (t − 0.7)²: slopes and values at 0 and 2 pin the minimum at 0.7.
        let a = StrongWolfe.Point(t: 0, f: 0.49, slope: -1.4), b = StrongWolfe.Point(t: 2, f: 1.69, slope: 2.6)
        #expect(abs(StrongWolfe.cubicMinimum(a, b, lower: 0, upper: 2) - 0.7) < 1e-12)
    }

    // MARK: State

    @Test(arguments: ["lbfgs", "cg", "newton"])
    func stateRoundTripContinuesBitForBit(_ method: String) throws {
        func make() -> ClosureOptimizer {
            switch method {
            case "lbfgs": LBFGS(historySize: 3, maxIterations: 2)
            case "cg": ConjugateGradient(maxIterations: 2)
            default: NewtonCG(maxIterations: 1)
            }
        }
        let a = Rosenbrock(), b = Rosenbrock()
        let first = make()
        for _ in 0..<3 { try first.step([a.theta]) { a.objective() } }
        let tensors = first.stateTensors().mapValues { $0.copy() }
        let metadata = first.stateMetadata()
        b.theta.value.copy(from: a.theta.value)
        let second = make()
        try second.loadState(tensors, metadata: metadata, step: first.stepCount, parameters: [b.theta])
        for _ in 0..<3 {
            try first.step([a.theta]) { a.objective() }
            try second.step([b.theta]) { b.objective() }
        }
        #expect(a.theta.value.scalars == b.theta.value.scalars)
        #expect(first.evaluations == second.evaluations && first.iterations == second.iterations)
    }

    @Test func loadStateNamesWhatDoesNotFit() throws {
        let r = Rosenbrock()
        let lbfgs = LBFGS()
        try lbfgs.step([r.theta]) { r.objective() }
        let tensors = lbfgs.stateTensors(), metadata = lbfgs.stateMetadata()
        let wide = Parameter(name: "xyz", value: Tensor(shape: [3]))
        #expect(throws: OptimizerStateError.shapeMismatch(name: "lbfgs.direction", expected: [3], found: [2])) {
            try LBFGS().loadState(tensors, metadata: metadata, step: 1, parameters: [wide])
        }
        #expect(throws: OptimizerStateError.unexpectedTensor(name: "xy.exp_avg", optimizer: "LBFGS")) {
            try LBFGS().loadState(["xy.exp_avg": Tensor(shape: [2])], metadata: [:], step: 1, parameters: [r.theta])
        }
        #expect(throws: OptimizerStateError.missingTensor(name: "lbfgs.step_size (metadata)", optimizer: "LBFGS")) {
            try LBFGS().loadState(tensors, metadata: metadata.filter { !$0.key.hasSuffix("step_size") }, step: 1,
                                  parameters: [r.theta])
        }
    }
}
