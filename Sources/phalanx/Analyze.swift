import ArgumentParser
import Foundation
import PhalanxAnalysis
import PhalanxDistributed
import PhalanxTraining

/// `phalanx analyze`: unsupervised learning on pixels or on a trained network's features.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "PCA, ICA, sparse coding, clustering, densities and manifolds (t-SNE, ISOMAP, LLE) on pixels or learned features.",
        discussion: """
        Examples:
          phalanx analyze --features pixels --limit 10000 --method pca,kmeans,tsne
          phalanx analyze --checkpoint runs/fashion-lenet/checkpoints/best \\
                          --method kmeans,tsne --output runs/analysis-lenet
          mpirun -np 2 phalanx analyze --features pixels --split train \\
                          --method pca,kmeans,gmm --reduce 50
        Methods (--method, comma-separated, or all) and their options:
          pca          principal components (data-parallel): --components, --whiten
          ica          FastICA: --components, --fun, --algorithm, --max-iter, --tol
          sparse-coding  dictionary learning, L1 codes: --atoms, --alpha, --coder,
                       --nonzeros, --max-iter
          kmeans       k-means (data-parallel): --clusters (a list: inertia by K),
                       --n-init, --init k-means++|random, --max-iter, --tol
          kmedoids     --clusters, --kmedoids-method, --init, --max-points
          affinity-propagation  finds K itself: --damping, --preference,
                       --convergence-iter, --max-iter, --max-points
          gmm          Gaussian mixture by EM (data-parallel): --clusters (a list:
                       lowest BIC), --covariance, --reg-covar, --n-init, --tol
          kde          Gaussian kernel density: --bandwidth, --held-out
          isomap, lle  manifolds: --neighbors, --components, --max-points (lle: --reg)
          tsne         t-SNE (Barnes-Hut): --perplexity, --early-exaggeration,
                       --learning-rate, --angle, --tsne-method, --init, --max-iter
        Writes to --output: features.npy and labels.npy (numpy.load reads them),
        each method's results as .npy, PNG pictures (embeddings coloured by class,
        clusters on the first two principal components, objective curves,
        components as images for pixel features) and summary.json with every
        figure printed. Under mpirun the features are extracted on every rank's
        share of the samples; pca, kmeans and gmm run data-parallel, the others
        on rank 0.
        """)

    @Option(help: "pixels (÷255), or give --checkpoint for a network's features.")
    var features: String?

    @Option(help: "A classifier checkpoint: analyse the output of --layer on its data.")
    var checkpoint: String?

    @Option(help: "The checkpoint's top-level layer whose output are the features (default: the input of its last layer).")
    var layer: String?

    @Option(help: "For --features pixels: the experiment config whose data to read (default: Debian's Fashion-MNIST).")
    var config: String?

    @Option(help: "test, validation or train.")
    var split = "test"

    @Option(help: "Use the first N samples of the split.")
    var limit: Int?

    @Option(help: "Methods, comma-separated (see above), or all.")
    var method = "pca"

    @Option(name: .shortAndLong, help: "The directory for the results.")
    var output = "analysis"

    @Option(help: "Reduce the features to this many principal components before every method but pca.")
    var reduce: Int?

    @Option(help: "Components of pca, ica, isomap, lle, tsne (default: all for pca and ica, 2 for the manifolds).")
    var components: Int?

    @Option(help: "K of kmeans, kmedoids, gmm; a comma-separated list for kmeans (inertia by K) and gmm (lowest BIC).")
    var clusters = "10"

    @Option(help: "Restarts of kmeans (default 1 with k-means++, 10 random) and gmm (default 1).")
    var nInit: Int?

    @Option(help: "Iterations (each method's own default).")
    var maxIter: Int?

    @Option(help: "Convergence tolerance (each method's own default).")
    var tol: Double?

    @Option(help: "Seed of every random choice.")
    var seed: UInt64 = 0

    @Option(help: "Neighbours of isomap and lle (default 5).")
    var neighbors: Int?

    @Option(help: "Start: k-means++|random (kmeans), k-medoids++|build|random (kmedoids), pca|random (tsne).")
    var `init`: String?

    @Option(help: "t-SNE perplexity.")
    var perplexity: Double = 30

    @Option(help: "t-SNE early exaggeration (its first 250 iterations).")
    var earlyExaggeration: Double = 12

    @Option(help: "t-SNE learning rate, or auto (max(N / early exaggeration / 4, 50)).")
    var learningRate = "auto"

    @Option(help: "Barnes–Hut angle θ of t-SNE.")
    var angle: Double = 0.5

    @Option(help: "barnes_hut or exact.")
    var tsneMethod = "barnes_hut"

    @Option(help: "gmm covariances: full or diag.")
    var covariance = "full"

    @Option(help: "Added to the gmm covariances' diagonals.")
    var regCovar: Double = 1e-6

    @Option(help: "kde bandwidth: a number, scott, silverman or cv (5-fold cross-validation over a grid).")
    var bandwidth = "scott"

    @Option(help: "kde: the fraction of samples (the last ones) scored, not fitted.")
    var heldOut: Double = 0.2

    @Option(help: "lle regularisation of the local Gram matrices.")
    var reg: Double = 1e-3

    @Option(help: "affinity-propagation: stop after this many iterations with the same exemplars.")
    var convergenceIter = 15

    @Option(help: "affinity-propagation damping, in [0.5, 1).")
    var damping: Double = 0.5

    @Option(help: "affinity-propagation preference, or median (the median similarity).")
    var preference = "median"

    @Option(help: "sparse-coding dictionary atoms (may exceed the features: over-complete).")
    var atoms: Int?

    @Option(help: "sparse-coding L1 penalty.")
    var alpha: Double = 1

    @Option(help: "sparse-coding codes by fista, ista or omp.")
    var coder = "fista"

    @Option(help: "sparse-coding omp: non-zero coefficients per code.")
    var nonzeros: Int?

    @Flag(help: "pca: scale the projections to unit variance.")
    var whiten = false

    @Option(help: "ica non-linearity: logcosh, exp or cube.")
    var fun = "logcosh"

    @Option(help: "ica: parallel or deflation.")
    var algorithm = "parallel"

    @Option(help: "kmedoids: alternate or pam.")
    var kmedoidsMethod = "alternate"

    @Option(help: "The most samples of the O(N²)-memory methods (each method's own default).")
    var maxPoints: Int?

    @Option(help: "k of the trustworthiness score of every embedding.")
    var trustNeighbors = 10

    @Flag(help: "Do not write features.npy and labels.npy.")
    var noFeatures = false

    func validate() throws {
        if checkpoint == nil && features != "pixels" {
            throw ValidationError("give --features pixels or --checkpoint CKPT")
        }
        if checkpoint != nil && features != nil { throw ValidationError("--features pixels and --checkpoint exclude each other") }
        if layer != nil && checkpoint == nil { throw ValidationError("--layer needs --checkpoint") }
        if config != nil && checkpoint != nil { throw ValidationError("--config is for --features pixels; a checkpoint keeps its own") }
    }

    func settings() throws -> AnalysisSettings {
        var s = AnalysisSettings()
        s.methods = try AnalysisMethod.list(method)
        s.output = output
        s.reduce = reduce
        s.components = components
        s.clusters = try clusters.split(separator: ",").map {
            guard let k = Int($0.trimmingCharacters(in: .whitespaces)) else {
                throw AnalysisError.option("--clusters", "'\(clusters)' is not a number or a comma-separated list of numbers")
            }
            return k
        }
        s.nInit = nInit
        s.maxIter = maxIter
        s.tol = tol
        s.seed = seed
        s.neighbors = neighbors
        s.initialization = `init`
        s.perplexity = perplexity
        s.earlyExaggeration = earlyExaggeration
        if learningRate != "auto" {
            guard let v = Double(learningRate) else { throw AnalysisError.option("--learning-rate", "a number or auto, not '\(learningRate)'") }
            s.learningRate = v
        }
        s.angle = angle
        s.tsneMethod = tsneMethod
        s.covariance = covariance
        s.regCovar = regCovar
        s.bandwidth = bandwidth
        s.heldOut = heldOut
        s.damping = damping
        s.regularization = reg
        s.convergenceIter = convergenceIter
        if preference != "median" {
            guard let v = Double(preference) else { throw AnalysisError.option("--preference", "a number or median, not '\(preference)'") }
            s.preference = v
        }
        s.atoms = atoms
        s.alpha = alpha
        s.coder = coder
        s.nonzeros = nonzeros
        s.whiten = whiten
        s.fun = fun
        s.algorithm = algorithm
        s.kmedoidsMethod = kmedoidsMethod
        s.maxPoints = maxPoints
        s.trustNeighbors = trustNeighbors
        s.saveFeatures = !noFeatures
        return s
    }

    func run() throws {
        try reportingErrors {
            let settings = try settings()
            let world = try World.communicator()
            if world.rank == 0 { warnAboutSlowBLAS() }
            try stoppingAllRanksOnError(world) {
                let source: FeatureSource = checkpoint.map { .checkpoint($0, layer: layer) } ?? .pixels(config: config)
                let set = try FeatureExtraction.extract(source, split: split, limit: limit, world: world)
                if world.rank == 0 {
                    print("analyze: \(set.shard.total) samples, \(set.description)"
                        + (world.size > 1 ? ", over \(world.size) ranks" : ""))
                }
                _ = try Analysis.run(set, settings) { line in if world.rank == 0 { print(line) } }
                if world.rank == 0 { print("analyze: results in \(settings.output)/ (summary.json)") }
            }
            if world.size > 1 { MPICommunicator.finalize() }
        }
    }
}
