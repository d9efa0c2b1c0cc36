// The methods of `phalanx analyze` that need every sample at once (manifolds, densities,
// O(N²) clusterings, ICA, sparse coding): run on rank 0 over the gathered features.
import Foundation
import PhalanxAnalysis
import PhalanxCore

extension Analysis {
    func runSerial(_ method: AnalysisMethod, _ x: Matrix, _ labels: [Int]) throws -> MethodReport {
        var r = MethodReport(method: method.rawValue)
        let s = settings
        switch method {
        case .tsne:
            var o = TSNE.Options()
            o.components = s.components ?? 2
            o.perplexity = s.perplexity
            o.earlyExaggeration = s.earlyExaggeration
            o.learningRate = s.learningRate.map { .fixed($0) } ?? .auto
            o.maxIter = s.maxIter ?? o.maxIter
            o.angle = s.angle
            o.seed = s.seed
            o.maxPoints = s.maxPoints ?? o.maxPoints
            o.method = try choice(s.tsneMethod, "--tsne-method", of: TSNE.Method.self)
            if let i = s.initialization {
                o.initialization = try choice(i, "--init", of: TSNE.Initialization.self)
            }
            let fit = try timed(&r) { try TSNE.fit(x, o) }
            r.values["kl_divergence"] = fit.klDivergence
            r.values["iterations"] = Double(fit.iterations)
            r.values["learning_rate"] = fit.learningRate
            r.line = "tsne: KL divergence " + String(format: "%.4f", fit.klDivergence) + " after \(fit.iterations) iterations"
            try embeddingFigures(fit.embedding, x, "tsne", "t-SNE (perplexity \(s.perplexity.formatted()))", &r)
        case .isomap:
            var o = Isomap.Options()
            o.neighbors = s.neighbors ?? o.neighbors
            o.components = s.components ?? o.components
            o.maxPoints = s.maxPoints ?? o.maxPoints
            o.seed = s.seed
            let fit = try timed(&r) { try Isomap.fit(x, o) }
            r.values["reconstruction_error"] = fit.reconstructionError
            r.values["graph_components"] = Double(fit.graphComponents)
            r.lists["eigenvalues"] = fit.eigenvalues
            r.line = "isomap: \(o.neighbors) neighbours, reconstruction error " + String(format: "%.6g", fit.reconstructionError)
            try embeddingFigures(fit.embedding, x, "isomap", "ISOMAP (\(o.neighbors) neighbours)", &r)
        case .lle:
            var o = LLE.Options()
            o.regularization = s.regularization
            o.neighbors = s.neighbors ?? o.neighbors
            o.components = s.components ?? o.components
            o.maxPoints = s.maxPoints ?? o.maxPoints
            let fit = try timed(&r) { try LLE.fit(x, o) }
            r.values["reconstruction_error"] = fit.reconstructionError
            r.line = "lle: \(o.neighbors) neighbours, reconstruction error " + String(format: "%.6g", fit.reconstructionError)
            try embeddingFigures(fit.embedding, x, "lle", "LLE (\(o.neighbors) neighbours)", &r)
        case .kde:
            guard s.heldOut > 0, s.heldOut < 1 else {
                throw AnalysisError.option("--held-out", "must lie strictly between 0 and 1, got \(s.heldOut)")
            }
            let test = max(1, Int((Double(x.rows) * s.heldOut).rounded()))
            guard x.rows - test >= 2 else { throw AnalysisError.input("kernel density needs at least 3 samples, got \(x.rows)") }
            let fitRows = x.selecting(rows: Array(0..<(x.rows - test)))
            let heldRows = x.selecting(rows: Array((x.rows - test)..<x.rows))
            var o = KernelDensity.Options()
            if let h = Double(s.bandwidth) {
                o.bandwidth = .value(h)
            } else {
                switch s.bandwidth {
                case "scott": o.bandwidth = .scott
                case "silverman": o.bandwidth = .silverman
                case "cv": o.bandwidth = .crossValidated
                default: throw AnalysisError.option("--bandwidth", "a number, scott, silverman or cv, not '\(s.bandwidth)'")
                }
            }
            let fit = try timed(&r) { try KernelDensity.fit(fitRows, o) }
            let held = try fit.meanScore(heldRows)
            let train = try fit.meanScore(fitRows.selecting(rows: Array(0..<min(fitRows.rows, test))))
            r.values["bandwidth"] = fit.bandwidth
            r.values["held_out_mean_log_density"] = held
            r.values["fitted_mean_log_density"] = train
            r.values["held_out_samples"] = Double(test)
            if !fit.crossValidationScores.isEmpty {
                r.lists["cv_bandwidths"] = fit.crossValidationScores.map(\.bandwidth)
                r.lists["cv_mean_log_density"] = fit.crossValidationScores.map(\.meanLogDensity)
                try curve([("held-out mean log-density", fit.crossValidationScores.map { log10($0.bandwidth) },
                            fit.crossValidationScores.map(\.meanLogDensity))], "kde-cv.png",
                          "Kernel density: cross-validated log-density by bandwidth", "log10 bandwidth", "mean log-density", &r)
            }
            r.line = "kde: bandwidth " + String(format: "%.4g", fit.bandwidth) + ", mean log-density of the \(test) held-out samples "
                + String(format: "%.6g", held) + " (fitted ones " + String(format: "%.6g", train) + ")"
        case .ica:
            var o = FastICA.Options()
            o.components = s.components
            o.fun = try choice(s.fun, "--fun", of: FastICA.Function.self)
            o.algorithm = try choice(s.algorithm, "--algorithm", of: FastICA.Algorithm.self)
            o.maxIter = s.maxIter ?? o.maxIter
            o.tol = s.tol ?? o.tol
            o.seed = s.seed
            let fit = try timed(&r) { try FastICA.fit(x, o) }
            r.values["components"] = Double(fit.components.rows)
            r.values["iterations"] = Double(fit.iterations)
            r.values["converged"] = fit.converged ? 1 : 0
            r.line = "ica: \(fit.components.rows) components after \(fit.iterations) iterations"
                + (fit.converged ? "" : " (not converged)")
            try save(fit.sources, as: "ica-sources.npy", in: &r)
            try save(fit.components, as: "ica-components.npy", in: &r)
            try save(fit.mixing, as: "ica-mixing.npy", in: &r)
            try componentImages(fit.mixing.transposed(), "ica-components.png", &r)
            if fit.sources.cols >= 2 {
                try scatter(fit.sources.leadingColumns(2), "ica", "FastICA sources", "source 1", "source 2", &r)
            }
        case .sparse:
            var o = SparseCoding.Options()
            o.atoms = s.atoms
            o.alpha = s.alpha
            o.coder = try choice(s.coder, "--coder", of: SparseCoding.Coder.self)
            o.nonzeros = s.nonzeros
            o.maxIter = s.maxIter ?? o.maxIter
            o.tol = s.tol ?? o.tol
            o.seed = s.seed
            let fit = try timed(&r) { try SparseCoding.fit(x, o) }
            r.values["atoms"] = Double(fit.dictionary.rows)
            r.values["objective"] = fit.objective.last ?? .nan
            r.values["mean_nonzeros"] = fit.meanNonzeros
            r.values["iterations"] = Double(fit.iterations)
            r.lists["objective_history"] = fit.objective
            r.line = "sparse-coding: \(fit.dictionary.rows) atoms (\(s.coder)), objective "
                + String(format: "%.6g", fit.objective.last ?? .nan) + ", "
                + String(format: "%.2f", fit.meanNonzeros) + " non-zeros per code"
            try save(fit.dictionary, as: "sparse-coding-dictionary.npy", in: &r)
            try save(fit.codes, as: "sparse-coding-codes.npy", in: &r)
            try componentImages(fit.dictionary, "sparse-coding-dictionary.png", &r)
            try curve([("objective", (1...max(fit.objective.count, 1)).map(Double.init), fit.objective)],
                      "sparse-coding-objective.png", "Dictionary learning: objective by iteration", "iteration", "objective", &r)
        default:
            try runSerialClustering(method, x, &r)
        }
        return r
    }

    /// Trustworthiness against the input, the embedding saved and drawn.
    func embeddingFigures(_ embedding: Matrix, _ x: Matrix, _ stem: String, _ title: String, _ r: inout MethodReport) throws {
        let k = min(settings.trustNeighbors, max(1, (x.rows - 1) / 2 - 1))
        let t = try Trustworthiness.score(x, embedding, neighbors: k)
        r.values["trustworthiness"] = t
        r.values["trustworthiness_k"] = Double(k)
        r.line += String(format: "; trustworthiness (k = %d) %.4f", k, t)
        try save(embedding, as: stem + "-embedding.npy", in: &r)
        if embedding.cols >= 2 {
            try scatter(embedding.leadingColumns(2), stem, title, "dimension 1", "dimension 2", &r)
        }
    }
}

extension Matrix {
    /// The transpose.
    func transposed() -> Matrix {
        var out = Matrix(rows: cols, cols: rows)
        for i in 0..<rows { for j in 0..<cols { out.values[j * rows + i] = values[i * cols + j] } }
        return out
    }
}
