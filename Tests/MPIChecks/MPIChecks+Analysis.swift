// `phalanx analyze` under mpirun: features extracted on every rank's share of the samples
// (pixels and a trained network's penultimate layer), PCA, k-means and a Gaussian mixture
// fitted data-parallel — the same features and figures as one process.
import Foundation
import PhalanxAnalysis
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxTraining

extension MPIChecks {
    static func analysis(_ world: Communicator) throws -> [String] {
        let dir = try writeData(world, train: 256, test: 301)  // 301: shards of unequal size
        defer { removeData(world, dir) }
        let yaml = """
            name: features
            seed: 5
            data: \(idxData(dir))
            model:
              input: [1, 28, 28]
              layers:
                - {kind: flatten}
                - {kind: linear, name: hidden, out: 12}
                - {kind: relu}
                - {kind: linear, name: out, out: 10}
            train:
              epochs: 1
              batch_size: 32
              optimizer: {kind: sgd, lr: 0.05}
              threads: 1
            checkpoint: {directory: \(dir)/runs}
            """
        let configPath = dir + "/features.yaml"
        if world.rank == 0 {
            try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
            var quiet = TrainOptions()
            quiet.quiet = true
            let loaded = try ConfigLoader.load(yaml: yaml)
            _ = try TaskRegistry.kind(of: loaded).train(loaded, options: quiet)
        }
        try world.barrier()
        var bad: [String] = []
        let checkpoint = dir + "/runs/features/checkpoints/latest"
        for (name, source) in [("pixels", FeatureSource.pixels(config: configPath)),
                               ("penultimate features", .checkpoint(checkpoint, layer: nil))] {
            var settings = AnalysisSettings()
            settings.methods = [.pca, .kmeans, .gmm]
            settings.reduce = 6
            settings.clusters = [3]
            settings.covariance = "full"
            settings.output = "\(dir)/analysis-\(name.prefix(6))-ranks"
            let parallel = try Analysis.run(try FeatureExtraction.extract(source, split: "test", limit: nil, world: world), settings)
            if world.rank == 0 {
                settings.output = "\(dir)/analysis-\(name.prefix(6))-alone"
                let alone = try Analysis.run(try FeatureExtraction.extract(source, split: "test", limit: nil,
                                                                           world: LocalCommunicator()), settings)
                let a = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/analysis-\(name.prefix(6))-ranks/features.npy"))
                let b = try Data(contentsOf: URL(fileURLWithPath: "\(settings.output)/features.npy"))
                // A forward pass over other batches may round differently: the features agree to
                // rounding (the pixels exactly).
                let (fa, fb) = (npyFloats(a), npyFloats(b))
                let scale = fb.reduce(0) { max($0, abs($1)) }
                let featureDifference = zip(fa, fb).reduce(0) { max($0, abs($1.0 - $1.1)) } / max(scale, 1e-30)
                if fa.count != fb.count || !(featureDifference <= (name == "pixels" ? 0 : 1e-6)) {
                    bad.append("\(name): features.npy differs by \(featureDifference) between \(world.size) ranks and one process")
                }
                var worst = (0.0, "")
                for (p, q) in zip(parallel, alone) {
                    for (key, v) in q.values where !key.hasSuffix("seconds") {  // times differ, figures must not
                        let d = abs((p.values[key] ?? .nan) - v) / max(abs(v), 1e-12)
                        if !(d <= worst.0) { worst = (d, "\(q.method).\(key)") }
                    }
                    for (key, v) in q.lists where !key.hasSuffix("history") {
                        // Relative to the list's largest value (eigenvalues near 0 are rounding).
                        let scale = v.reduce(0) { max($0, abs($1)) }
                        for (x, y) in zip(p.lists[key] ?? [], v) {
                            let d = abs(x - y) / max(scale, 1e-12)
                            if !(d <= worst.0) { worst = (d, "\(q.method).\(key)") }
                        }
                    }
                }
                let kmeans = alone.first { $0.method == "kmeans" }?.values ?? [:]
                let gmm = alone.first { $0.method == "gmm" }?.values ?? [:]
                print(String(format: "     analyze, %@: %d ranks vs 1 process: largest relative difference %.2e (%@); "
                             + "k-means inertia %.6g, NMI %.4f; GMM mean log-likelihood %.6g", name, world.size, worst.0,
                             worst.1, kmeans["inertia"] ?? .nan, kmeans["nmi"] ?? .nan, gmm["mean_log_likelihood"] ?? .nan))
                // Sums over ranks associate differently: agreement to rounding, not bits.
                if worst.0 > 1e-6 { bad.append("\(name): \(worst.1) differs by \(worst.0) relative") }
                for key in ["kmeans-labels.npy", "gmm-labels.npy"] {
                    let p = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/analysis-\(name.prefix(6))-ranks/\(key)"))
                    let q = try Data(contentsOf: URL(fileURLWithPath: "\(settings.output)/\(key)"))
                    if p != q { bad.append("\(name): \(key) differs") }
                }
            }
        }
        return try sharingVerdict(world, bad)
    }

    /// The float32 values of a .npy file.
    static func npyFloats(_ data: Data) -> [Float] {
        let bytes = [UInt8](data)
        guard bytes.count >= 10 else { return [] }
        let start = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
        return bytes[start...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
