import Foundation
import PhalanxAnalysis
import PhalanxCore
import PhalanxDistributed
@testable import PhalanxTraining
import Testing

/// `phalanx analyze` end to end on tiny band images: features from pixels and from a
/// trained checkpoint, every method's files and figures, and bad inputs named.
@Suite(.serialized) struct AnalysisTests {
    /// Trains the tiny classifier once; returns the data and its checkpoint.
    func trained() throws -> (TinyData, String, String) {
        let data = TinyData(train: 150, test: 90)
        let yaml = data.config(name: "features")
        let configPath = data.directory + "/features.yaml"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        var quiet = TrainOptions()
        quiet.quiet = true
        _ = try Trainer(try ConfigLoader.load(yaml: yaml), options: quiet).run()
        return (data, configPath, data.directory + "/runs/features/checkpoints/latest")
    }

    @Test func everyMethodWritesItsResults() throws {
        let (data, configPath, _) = try trained()
        defer { data.cleanUp() }
        let set = try FeatureExtraction.extract(.pixels(config: configPath), split: "test", limit: nil, world: LocalCommunicator())
        #expect(set.shard.total == 90 && set.shard.cols == 64 && set.labels.count == 90)
        #expect(set.shard.local.values.allSatisfy { $0 >= 0 && $0 <= 1 })
        var s = AnalysisSettings()
        s.methods = AnalysisMethod.allCases
        s.output = data.directory + "/analysis"
        s.clusters = [3]
        s.reduce = 8
        s.perplexity = 10
        s.maxIter = 300
        s.atoms = 6
        let reports = try Analysis.run(set, s)
        #expect(reports.map(\.method) == ["features"] + AnalysisMethod.allCases.map(\.rawValue))
        // The bands make the three classes separable: k-means and the mixture find them.
        let kmeans = try #require(reports.first { $0.method == "kmeans" })
        #expect((kmeans.values["nmi"] ?? 0) > 0.9)
        let tsne = try #require(reports.first { $0.method == "tsne" })
        #expect((tsne.values["trustworthiness"] ?? 0) > 0.8)
        let pca = try #require(reports.first { $0.method == "pca" })
        #expect(abs((pca.lists["explained_variance_ratio"] ?? []).reduce(0, +) - 1) < 1e-9)
        for r in reports {
            for f in r.files { #expect(FileManager.default.fileExists(atPath: s.output + "/" + f), "\(r.method): \(f)") }
        }
        #expect(FileManager.default.fileExists(atPath: s.output + "/tsne.png"))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.output + "/summary.json")))
            as? [String: Any]
        let methods = try #require(summary?["methods"] as? [String: Any])
        #expect(Set(methods.keys) == Set(AnalysisMethod.allCases.map(\.rawValue)))
    }

    @Test func checkpointFeaturesComeFromTheNamedLayer() throws {
        let (data, _, checkpoint) = try trained()
        defer { data.cleanUp() }
        let penultimate = try FeatureExtraction.extract(.checkpoint(checkpoint, layer: nil), split: "test", limit: 40,
                                                        world: LocalCommunicator())
        #expect(penultimate.shard.total == 40 && penultimate.shard.cols == 4 * 4 * 4)  // dropout's input: the flattened map
        let conv = try FeatureExtraction.extract(.checkpoint(checkpoint, layer: "conv1"), split: "test", limit: 5,
                                                 world: LocalCommunicator())
        #expect(conv.shard.cols == 4 * 8 * 8)
        #expect(throws: AnalysisError.self) {
            try FeatureExtraction.extract(.checkpoint(checkpoint, layer: "fc9"), split: "test", limit: 5, world: LocalCommunicator())
        }
        do {
            _ = try FeatureExtraction.extract(.checkpoint(checkpoint, layer: "fc9"), split: "test", limit: 5, world: LocalCommunicator())
        } catch let e as AnalysisError {
            #expect(e.description.hasPrefix("--layer: the model has no top-level layer 'fc9'; its layers: conv1, bn1"))
        }
    }

    @Test func badInputsAreNamed() throws {
        let x = try Matrix(rows: 4, cols: 2, values: [0, 0, 1, 1, 2, 2, 3, .nan])
        let set = FeatureSet(shard: Shard(x), labels: [0, 0, 1, 1], classNames: ["a", "b"], description: "test",
                             title: "test", split: "test")
        var s = AnalysisSettings()
        s.output = NSTemporaryDirectory() + "phalanx-analysis-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: s.output) }
        s.methods = [.kmeans]
        #expect(throws: AnalysisError.input("the features hold nan at sample 3, feature 1")) { try Analysis.run(set, s) }
        let good = FeatureSet(shard: Shard(try Matrix(rows: 4, cols: 2, values: [0, 0, 1, 1, 2, 2, 3, 3])),
                              labels: [0, 0, 1, 1], classNames: ["a", "b"], description: "test", title: "test", split: "test")
        s.clusters = [5]
        #expect(throws: AnalysisError.option("--clusters", "5 clusters of 4 samples; K must not exceed the samples")) {
            try Analysis.run(good, s)
        }
        s.methods = [.tsne]
        s.perplexity = 4
        #expect(throws: AnalysisError.self) { try Analysis.run(good, s) }
        #expect(throws: AnalysisError.self) { try AnalysisMethod.list("pca,umap") }
        #expect(throws: AnalysisError.self) {
            try FeatureExtraction.extract(.pixels(config: nil), split: "holdout", limit: nil, world: LocalCommunicator())
        }
    }
}
