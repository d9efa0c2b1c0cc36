// k-medoids and affinity propagation in `phalanx analyze`: O(N²)-memory clusterings, on
// rank 0 over the gathered features.
import Foundation
import PhalanxAnalysis

extension Analysis {
    func runSerialClustering(_ method: AnalysisMethod, _ x: Matrix, _ r: inout MethodReport) throws {
        let s = settings
        switch method {
        case .kmedoids:
            var o = KMedoids.Options()
            o.clusters = s.clusters[0]
            o.method = try choice(s.kmedoidsMethod, "--kmedoids-method", of: KMedoids.Method.self)
            if let i = s.initialization {
                o.initialization = try choice(i, "--init", of: KMedoids.Initialization.self)
            }
            o.maxIter = s.maxIter ?? o.maxIter
            o.maxPoints = s.maxPoints ?? o.maxPoints
            o.seed = s.seed
            let fit = try timed(&r) { try KMedoids.fit(x, o) }
            r.values["clusters"] = Double(fit.medoids.count)
            r.values["inertia"] = fit.inertia
            r.values["iterations"] = Double(fit.iterations)
            r.lists["medoids"] = fit.medoids.map(Double.init)
            r.line = "kmedoids: K=\(fit.medoids.count) (\(s.kmedoidsMethod)) sum of distances " + String(format: "%.6g", fit.inertia)
                + " after \(fit.iterations) iterations"
            try clusterFigures(fit.labels, "kmedoids", &r)
            try save(fit.centers, as: "kmedoids-medoids.npy", in: &r)
            try componentImages(fit.centers, "kmedoids-medoids.png", &r, signed: false)
        case .affinity:
            var o = AffinityPropagation.Options()
            guard s.damping >= 0.5, s.damping < 1 else {
                throw AnalysisError.option("--damping", "must lie in [0.5, 1), got \(s.damping)")
            }
            o.damping = s.damping
            o.convergenceIter = s.convergenceIter
            o.preference = s.preference.map { .value($0) } ?? .median
            o.maxIter = s.maxIter ?? o.maxIter
            o.maxPoints = s.maxPoints ?? o.maxPoints
            o.seed = s.seed
            let fit = try timed(&r) { try AffinityPropagation.fit(x, o) }
            r.values["clusters"] = Double(fit.exemplars.count)
            r.values["iterations"] = Double(fit.iterations)
            r.values["converged"] = fit.converged ? 1 : 0
            r.values["preference"] = fit.preference
            r.line = "affinity-propagation: \(fit.exemplars.count) clusters (preference " + String(format: "%.4g", fit.preference)
                + ") after \(fit.iterations) iterations" + (fit.converged ? "" : ", not converged")
            try clusterFigures(fit.labels, "affinity-propagation", &r)
            try save(fit.centers, as: "affinity-propagation-exemplars.npy", in: &r)
        default:
            preconditionFailure("\(method) is not a serial clustering")
        }
    }
}
