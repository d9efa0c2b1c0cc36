// `phalanx analyze`: unsupervised methods run on a feature set, their figures printed and
// kept in summary.json, their results saved as NumPy arrays and PNG pictures.
//
// PCA, k-means and Gaussian mixtures run data-parallel on every rank's shard (their
// statistics are allreduced); the others need every sample at once and run on rank 0
// over the gathered features while the other ranks wait. Only rank 0 writes files.
import Foundation
import PhalanxAnalysis
import PhalanxCore
import PhalanxData
import PhalanxDistributed

/// The methods `phalanx analyze --method` knows.
public enum AnalysisMethod: String, CaseIterable, Sendable {
    case pca, ica, sparse = "sparse-coding", kmeans, kmedoids, affinity = "affinity-propagation", gmm, kde
    case isomap, lle, tsne

    /// Methods whose statistics are summed over ranks; the others run on rank 0.
    public var isDataParallel: Bool { self == .pca || self == .kmeans || self == .gmm }

    /// Parses a comma-separated list (`pca,kmeans,tsne`, or `all`).
    public static func list(_ text: String) throws -> [AnalysisMethod] {
        if text == "all" { return allCases }
        return try text.split(separator: ",").map { name in
            guard let m = AnalysisMethod(rawValue: String(name).trimmingCharacters(in: .whitespaces)) else {
                throw AnalysisError.option("--method", "unknown method '\(name)'; known: "
                    + allCases.map(\.rawValue).joined(separator: ", ") + " (or all)")
            }
            return m
        }
    }
}

/// The options of every method, as `phalanx analyze` takes them (nil: the method's default).
public struct AnalysisSettings: Sendable {
    public var methods: [AnalysisMethod] = [.pca]
    /// Where results go (created).
    public var output: String = "analysis"
    /// Reduce the features to this many principal components before every method but `pca`.
    public var reduce: Int?
    public var components: Int?
    /// K for the clustering methods; several for k-means (an elbow curve) and mixtures (BIC).
    public var clusters: [Int] = [10]
    public var nInit: Int?
    public var maxIter: Int?
    public var tol: Double?
    public var seed: UInt64 = 0
    public var neighbors: Int?
    public var initialization: String?
    public var perplexity: Double = 30
    public var earlyExaggeration: Double = 12
    public var learningRate: Double?
    public var angle: Double = 0.5
    public var tsneMethod: String = "barnes_hut"
    public var covariance: String = "full"
    public var regCovar: Double = 1e-6
    public var bandwidth: String = "scott"
    /// The fraction of samples (the last ones) the density is scored on, not fitted on.
    public var heldOut: Double = 0.2
    /// LLE's regularisation of the local Gram matrices (scikit-learn's `reg`).
    public var regularization: Double = 1e-3
    public var damping: Double = 0.5
    /// Affinity propagation stops after this many iterations without a change of exemplars.
    public var convergenceIter = 15
    public var preference: Double?
    public var atoms: Int?
    public var alpha: Double = 1
    public var coder: String = "fista"
    public var nonzeros: Int?
    public var whiten = false
    public var fun: String = "logcosh"
    public var algorithm: String = "parallel"
    public var kmedoidsMethod: String = "alternate"
    public var maxPoints: Int?
    /// k of the trustworthiness score of every embedding.
    public var trustNeighbors = 10
    /// Write features.npy and labels.npy.
    public var saveFeatures = true
    public init() {}
}

/// What one method found.
public struct MethodReport: Sendable {
    public var method: String
    /// Scalar figures (objective values, cluster metrics, trustworthiness, seconds).
    public var values: [String: Double] = [:]
    /// Figures per component or per K.
    public var lists: [String: [Double]] = [:]
    /// Files written, relative to the output directory.
    public var files: [String] = []
    /// The one-line summary printed.
    public var line = ""
}

/// One run of `phalanx analyze` over a feature set.
public final class Analysis {
    let features: FeatureSet
    let settings: AnalysisSettings
    /// The features the methods read (the principal components of `features` with --reduce).
    var shard: Shard { didSet { gathered = nil; planarCache = nil } }
    var world: Communicator { features.shard.world }
    var isRoot: Bool { world.rank == 0 }
    /// Every sample's label, in global order (gathered at the start).
    private(set) var allLabels: [Int] = []
    private var gathered: Matrix?
    private var planarCache: Matrix?

    init(_ features: FeatureSet, _ settings: AnalysisSettings) {
        self.features = features
        self.settings = settings
        shard = features.shard
    }

    /// Runs `settings.methods` on `features`; every rank calls it, rank 0 writes
    /// `settings.output` and the returned reports are rank 0's (the others' are empty).
    public static func run(_ features: FeatureSet, _ settings: AnalysisSettings,
                           progress: (String) -> Void = { _ in }) throws -> [MethodReport] {
        let a = Analysis(features, settings)
        return try a.runAll(progress: progress)
    }

    func runAll(progress: (String) -> Void) throws -> [MethodReport] {
        if settings.methods.isEmpty { throw AnalysisError.option("--method", "name at least one method") }
        guard settings.trustNeighbors >= 1 else { throw AnalysisError.option("--trust-neighbors", "must be at least 1") }
        try shard.local.validate(minimumRows: 0, method: "analysis")
        if isRoot { try FileManager.default.createDirectory(atPath: settings.output, withIntermediateDirectories: true) }
        allLabels = try gatherLabels(features.labels)
        var reports: [MethodReport] = []
        var preamble = MethodReport(method: "features")
        preamble.values["samples"] = Double(shard.total)
        preamble.values["dimension"] = Double(shard.cols)
        if settings.saveFeatures {
            let (x, labels) = try all()
            if isRoot {
                try NumPy.write(x.tensor, to: path("features.npy"))
                try NumPy.write(labels.map(Int32.init), shape: [labels.count], to: path("labels.npy"))
                preamble.files = ["features.npy", "labels.npy"]
            }
        }
        if let r = settings.reduce, settings.methods.contains(where: { $0 != .pca }) {
            var o = PCA.Options()
            o.components = r
            let fit = try PCA.fit(shard, o)
            shard = try Shard(fit.transform(shard.local), world: world)
            preamble.values["reduced_to"] = Double(r)
            preamble.values["reduced_variance_kept"] = fit.explainedVarianceRatio.reduce(0, +)
        }
        reports.append(preamble)
        for method in settings.methods {
            let started = ContinuousClock.now
            var report: MethodReport
            // Collectives every rank takes part in before rank 0 draws: the methods on rank 0
            // read the gathered features; every clustering is drawn on the first two
            // principal components (a data-parallel PCA, only its N × 2 projection gathered).
            if !method.isDataParallel { _ = try all() }
            if [.kmeans, .gmm, .kmedoids, .affinity].contains(method) { _ = try planar() }
            if method.isDataParallel {
                report = try runDataParallel(method)
            } else {
                // Rank 0 runs it over every sample; the others wait for it.
                let (x, labels) = try all()
                report = isRoot ? try runOnRoot(method, x, labels) : MethodReport(method: method.rawValue)
            }
            let elapsed = ContinuousClock.now - started
            try world.barrier()
            report.values["seconds"] = seconds(elapsed)
            report.line += String(format: " (%.2f s)", report.values["seconds"]!)
            progress(report.line)
            reports.append(report)
        }
        if isRoot { try writeSummary(reports) }
        return isRoot ? reports : []
    }

    // MARK: Data-parallel methods

    func runDataParallel(_ method: AnalysisMethod) throws -> MethodReport {
        var r = MethodReport(method: method.rawValue)
        switch method {
        case .pca:
            var o = PCA.Options()
            o.components = settings.components
            o.whiten = settings.whiten
            // PCA reads the features themselves, never their --reduce projection.
            let fit = try timed(&r) { try PCA.fit(features.shard, o) }
            let projected = fit.transform(features.shard.local)
            r.lists["explained_variance_ratio"] = fit.explainedVarianceRatio
            r.lists["explained_variance"] = fit.explainedVariance
            r.lists["singular_values"] = fit.singularValues
            r.values["components"] = Double(fit.components.rows)
            r.values["noise_variance"] = fit.noiseVariance
            let shown = min(fit.components.rows, 2)
            let cumulative = fit.explainedVarianceRatio.reduce(0, +)
            r.line = "pca: \(fit.components.rows) components explain " + String(format: "%.4f", cumulative)
                + " of the variance; the first two " + fit.explainedVarianceRatio.prefix(shown).map { String(format: "%.4f", $0) }
                .joined(separator: ", ")
            let embedding = try gather(projected)
            if isRoot {
                try save(embedding, as: "pca-embedding.npy", in: &r)
                try save(fit.components, as: "pca-components.npy", in: &r)
                if fit.components.rows >= 2 { try scatter(embedding.leadingColumns(2), "pca", "PCA", "component 1", "component 2", &r) }
                try componentImages(fit.components, "pca-components.png", &r)
                try curve([("explained variance ratio", (1...fit.components.rows).map(Double.init), fit.explainedVarianceRatio)],
                          "pca-variance.png", "PCA: explained variance ratio by component", "component", "ratio", &r)
            }
        case .kmeans:
            var inertias: [Double] = []
            var kept: KMeans.Result?
            for k in settings.clusters {
                var o = KMeans.Options()
                o.clusters = k
                o.nInit = settings.nInit
                o.maxIter = settings.maxIter ?? o.maxIter
                o.tol = settings.tol ?? o.tol
                o.seed = settings.seed
                if let i = settings.initialization {
                    o.initialization = try choice(i, "--init", of: KMeans.Initialization.self)
                }
                let fit = try timed(&r) { try KMeans.fit(shard, o) }
                inertias.append(fit.inertia)
                if kept == nil { kept = fit }
            }
            let fit = kept!
            r.values["clusters"] = Double(fit.centers.rows)
            r.values["inertia"] = fit.inertia
            r.values["iterations"] = Double(fit.iterations)
            r.lists["inertia_history"] = fit.history
            r.lists["run_inertias"] = fit.runInertias
            if settings.clusters.count > 1 {
                r.lists["k"] = settings.clusters.map(Double.init)
                r.lists["inertia_by_k"] = inertias
            }
            r.line = "kmeans: K=\(fit.centers.rows) inertia " + String(format: "%.6g", fit.inertia)
                + " after \(fit.iterations) iterations (best of \(fit.runInertias.count) starts)"
            let labels = try gatherLabels(fit.labels)
            if isRoot {
                try clusterFigures(labels, "kmeans", &r)
                try save(fit.centers, as: "kmeans-centers.npy", in: &r)
                try componentImages(fit.centers, "kmeans-centers.png", &r, signed: false)
                try curve([("inertia", (1...fit.history.count).map(Double.init), fit.history)], "kmeans-inertia.png",
                          "k-means: inertia by iteration", "iteration", "inertia", &r)
                if settings.clusters.count > 1 {
                    try curve([("inertia", settings.clusters.map(Double.init), inertias)], "kmeans-elbow.png",
                              "k-means: inertia by K", "K", "inertia", &r)
                }
            }
        case .gmm:
            var results: [GaussianMixture.Result] = []
            for k in settings.clusters {
                var o = GaussianMixture.Options()
                o.components = k
                o.covariance = try choice(settings.covariance, "--covariance", of: GaussianMixture.Covariance.self)
                o.maxIter = settings.maxIter ?? o.maxIter
                o.tol = settings.tol ?? o.tol
                o.regCovar = settings.regCovar
                o.nInit = settings.nInit ?? 1
                o.seed = settings.seed
                results.append(try timed(&r) { try GaussianMixture.fit(shard, o) })
            }
            let best = results.min { $0.bic < $1.bic }!
            r.values["clusters"] = Double(best.weights.count)
            r.values["mean_log_likelihood"] = best.meanLogLikelihood
            r.values["bic"] = best.bic
            r.values["aic"] = best.aic
            r.values["iterations"] = Double(best.iterations)
            r.values["converged"] = best.converged ? 1 : 0
            r.lists["weights"] = best.weights
            r.lists["log_likelihood_history"] = best.history
            if results.count > 1 {
                r.lists["k"] = settings.clusters.map(Double.init)
                r.lists["bic_by_k"] = results.map(\.bic)
            }
            r.line = "gmm: K=\(best.weights.count) (\(settings.covariance)) mean log-likelihood "
                + String(format: "%.6g", best.meanLogLikelihood) + ", BIC " + String(format: "%.6g", best.bic)
                + (results.count > 1 ? " (lowest BIC of K = " + settings.clusters.map(String.init).joined(separator: ", ") + ")" : "")
                + (best.converged ? "" : ", not converged in \(best.iterations) iterations")
            let labels = try gatherLabels(best.labels)
            if isRoot {
                try clusterFigures(labels, "gmm", &r)
                try save(Matrix(rows: best.weights.count, cols: best.dimension, doubles: best.means), as: "gmm-means.npy", in: &r)
                if results.count > 1 {
                    try curve([("BIC", settings.clusters.map(Double.init), results.map(\.bic))], "gmm-bic.png",
                              "Gaussian mixture: BIC by K", "K", "BIC", &r)
                }
            }
        default:
            preconditionFailure("\(method) is not data-parallel")
        }
        return r
    }

    // MARK: Shared figures and files

    /// Every rank's features (of `shard`) and labels, gathered. Every rank calls it the
    /// first time after `shard` changes; later calls return what it gathered.
    func all() throws -> (Matrix, [Int]) {
        if let g = gathered { return (g, allLabels) }
        let x = try gather(shard.local)
        gathered = x
        return (x, allLabels)
    }

    func gather(_ local: Matrix) throws -> Matrix {
        guard world.size > 1 else { return local }
        let values = try shard.gather(local.values)
        return try Matrix(rows: values.count / max(local.cols, 1), cols: local.cols, values: values)
    }

    func gatherLabels(_ local: [Int]) throws -> [Int] {
        guard world.size > 1 else { return local }
        return try shard.gather(local.map(Float.init)).map { Int($0) }
    }

    func path(_ name: String) -> String { (settings.output as NSString).appendingPathComponent(name) }

    func save(_ m: Matrix, as name: String, in r: inout MethodReport) throws {
        try NumPy.write(m.tensor, to: path(name))
        r.files.append(name)
    }

    func scatter(_ points: Matrix, _ stem: String, _ title: String, _ xLabel: String, _ yLabel: String,
                 _ r: inout MethodReport, labels: [Int]? = nil, names: [String]? = nil) throws {
        try ScatterPlot.write(to: path(stem + ".png"), points: points, labels: labels ?? allLabels,
                              classNames: names ?? features.classNames,
                              title: title + ": " + features.title,
                              xLabel: xLabel, yLabel: yLabel)
        r.files.append(stem + ".png")
    }

    func curve(_ series: [(String, [Double], [Double])], _ name: String, _ title: String, _ xLabel: String, _ yLabel: String,
               _ r: inout MethodReport) throws {
        guard series.allSatisfy({ !$0.1.isEmpty }) else { return }
        try LinePlot.render(series: series.map { (name: $0.0, x: $0.1, y: $0.2) }, title: title, xLabel: xLabel, yLabel: yLabel)
            .write(to: path(name))
        r.files.append(name)
    }

    /// NMI, ARI and purity against the labels, the assignments saved, and a picture of the
    /// clusters on the first two principal components.
    func clusterFigures(_ clusters: [Int], _ stem: String, _ r: inout MethodReport) throws {
        let m = try ClusterMetrics(labels: allLabels, clusters: clusters)
        r.values["nmi"] = m.nmi
        r.values["ari"] = m.ari
        r.values["purity"] = m.purity
        r.line += String(format: "; against the labels NMI %.4f, ARI %.4f, purity %.4f", m.nmi, m.ari, m.purity)
        try NumPy.write(clusters.map(Int32.init), shape: [clusters.count], to: path(stem + "-labels.npy"))
        r.files.append(stem + "-labels.npy")
        if let plane = try planar() {
            let ids = Array(Set(clusters)).sorted()
            let index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
            try scatter(plane, stem, "\(stem) clusters (\(ids.count)) on PCA", "component 1", "component 2", &r,
                        labels: clusters.map { $0 < 0 ? -1 : index[$0]! }, names: ids.map { "cluster \($0)" })
        }
    }

    /// Every sample on the first two principal components of `shard`, gathered (nil with
    /// one feature). Every rank calls it the first time after `shard` changes.
    func planar() throws -> Matrix? {
        if let p = planarCache { return p }
        guard shard.cols >= 2, shard.total >= 2 else { return nil }
        var o = PCA.Options()
        o.components = 2
        let p = try gather(try PCA.fit(shard, o).transform(shard.local))
        planarCache = p
        return p
    }

    /// Rows of `m` drawn as images when the features are pixels of square images
    /// (eigen-images, centres, dictionary atoms): each row scaled to 0…255.
    func componentImages(_ m: Matrix, _ name: String, _ r: inout MethodReport, signed: Bool = true) throws {
        let side = Int(Double(m.cols).squareRoot().rounded())
        guard side * side == m.cols, side >= 4, features.description.hasPrefix("pixels"), m.rows > 0 else { return }
        let count = min(m.rows, 64)
        let t = Tensor(shape: [count, 1, side, side])
        for i in 0..<count {
            let row = m.row(i)
            let lo = row.min()!, hi = row.max()!
            let bound = max(abs(lo), abs(hi), .leastNormalMagnitude)
            for j in 0..<m.cols {
                t[i * m.cols + j] = signed ? 127.5 + 127.5 * row[j] / bound : 255 * (row[j] - lo) / max(hi - lo, .leastNormalMagnitude)
            }
        }
        try ImageGrid.write(t, columns: min(count, 16), stats: nil, to: path(name))
        r.files.append(name)
    }

    func writeSummary(_ reports: [MethodReport]) throws {
        var object: [String: Any] = ["features": features.description, "split": features.split, "ranks": world.size]
        var methods: [String: Any] = [:]
        for r in reports {
            var entry: [String: Any] = [:]
            for (k, v) in r.values { entry[k] = v.isFinite ? v : String(v) }
            for (k, v) in r.lists { entry[k] = v.map { $0.isFinite ? $0 as Any : String($0) as Any } }
            entry["files"] = r.files
            if !r.line.isEmpty { entry["summary"] = r.line }
            if r.method == "features" { object["data"] = entry } else { methods[r.method] = entry }
        }
        object["methods"] = methods
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: URL(fileURLWithPath: path("summary.json")), options: .atomic)
    }

    /// The methods that need every sample at once, on rank 0.
    func runOnRoot(_ method: AnalysisMethod, _ x: Matrix, _ labels: [Int]) throws -> MethodReport {
        try runSerial(method, x, labels)
    }
}

/// The case of `T` named `value`, or an error of `flag` listing the names there are.
func choice<T: RawRepresentable & CaseIterable>(_ value: String, _ flag: String, of type: T.Type) throws -> T
    where T.RawValue == String {
    guard let v = T(rawValue: value) else {
        throw AnalysisError.option(flag, "'\(value)' is none of " + T.allCases.map(\.rawValue).joined(separator: ", "))
    }
    return v
}

/// Runs `body`, adding its wall time to the report's `fit_seconds` (the method alone,
/// without its pictures, files and scores).
func timed<T>(_ r: inout MethodReport, _ body: () throws -> T) rethrows -> T {
    let start = ContinuousClock.now
    let value = try body()
    r.values["fit_seconds", default: 0] += seconds(ContinuousClock.now - start)
    return value
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
