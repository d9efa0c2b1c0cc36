import Foundation
import PhalanxCore
import PhalanxData
@testable import PhalanxCoordinator
import PhalanxNN
import PhalanxTestSupport
import PhalanxTraining
import Testing

/// A temporary directory with a tiny learnable IDX data set (8×8 images, 3 classes: the
/// bright third of the image is the class) and configs over it.
struct TinyEnsembleData {
    let directory: String

    init(train: Int = 180, test: Int = 60) {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("phalanx-coord-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var images = BandImages(side: 8, seed: 11, label: { $0 % 3 }, band: { $0 * 3 / 8 }, bright: 110, dark: 60, noise: 110)
        try! images.write(train: train, test: test, to: directory)
    }

    static let small = """
        input: [1, 8, 8]
          layers:
            - {kind: conv2d, name: conv1, out: 3, kernel: 3, padding: 1}
            - {kind: batchnorm, name: bn1}
            - {kind: relu}
            - {kind: maxpool, kernel: 2}
            - {kind: flatten}
            - {kind: linear, name: fc, out: 3}
        """

    func config(name: String = "ens", epochs: Int = 2, keep: Int = 3, extra: String = "") -> String {
        """
        name: \(name)
        seed: 5
        data:
          dataset: idx
          directory: \(directory)
          train_images: train-images-idx3-ubyte.gz
          train_labels: train-labels-idx1-ubyte.gz
          test_images: t10k-images-idx3-ubyte.gz
          test_labels: t10k-labels-idx1-ubyte.gz
          validation: 30
        model:
          \(Self.small)
        train:
          epochs: \(epochs)
          batch_size: 30
          optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}
          threads: 1
        checkpoint:
          directory: \(directory)/runs
          keep: \(keep)
        \(extra)
        """
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
}

func quietly() -> CoordinatorOptions {
    var o = CoordinatorOptions()
    o.quiet = true
    return o
}

@Suite(.serialized) struct EnsembleTests {
    @Test func baggedEnsembleKeepsIndicesAndReportsOutOfBag() throws {
        let data = TinyEnsembleData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(extra: """
            ensemble: {members: 3, method: bagging, sample_fraction: 1.0}
            """))
        let runner = EnsembleRunner(loaded, options: quietly())
        let report = try #require(try runner.run())
        #expect(report.members.map(\.name) == ["member-1", "member-2", "member-3"])
        #expect(report.testSamples == 60)
        let oob = try #require(report.outOfBag)
        #expect(oob.total == 150 && oob.covered > 100 && oob.covered <= 150)
        #expect(report.members.allSatisfy { $0.outOfBagAccuracy != nil })
        #expect(report.softVoteAccuracy > 0.5, "the tiny task is learnable")
        // Each member is a normal run with its bootstrap sample beside it.
        for i in 0..<3 {
            let dir = runner.directory.appendingPathComponent("member-\(i + 1)")
            let sample = try JSONDecoder().decode(BootstrapSample.self,
                                                  from: Data(contentsOf: dir.appendingPathComponent("bootstrap.json")))
            #expect(sample == BootstrapSample(member: i, seed: 5, trainCount: 150, fraction: 1))
            let ckpt = try #require(runner.finishedCheckpointIfAny(i))
            let eval = try CheckpointEvaluation.run(checkpoint: ckpt)
            #expect(abs(eval.accuracy - report.members[i].testAccuracy) < 1e-12)
            #expect(try Checkpoint<TrainerState>.load(from: ckpt, as: TrainerState.self).trainer.config.seed == 5 + UInt64(i))
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: runner.directory.appendingPathComponent("ensemble.json")))
            as? [String: Any]
        #expect(json?["soft_vote_accuracy"] as? Double == report.softVoteAccuracy)
        #expect((json?["out_of_bag"] as? [String: Any])?["covered"] as? Int == oob.covered)
        #expect(json?["method"] as? String == "bagging" && json?["name"] as? String == "ens")
        // Soft voting by hand from the members' checkpoints gives the same accuracy.
        let models = try (0..<3).map { try LoadedModel(try #require(runner.finishedCheckpointIfAny($0))) }
        let test = try models[0].data().test
        let soft = Voting.soft(try models.map { try $0.probabilities(on: test) })
        #expect(Voting.accuracy(Voting.argmax(soft), labels: test.labels) == report.softVoteAccuracy)
    }

    @Test func failedMemberIsNamedAndResumeTrainsOnlyTheUnfinished() throws {
        let data = TinyEnsembleData()
        defer { data.cleanUp() }
        // Member 2 gets a model with 4 outputs for 3 classes: it fails; 1 and 3 finish.
        let bad = TinyEnsembleData.small.replacingOccurrences(of: "out: 3}", with: "out: 4}")
        func yaml(_ second: String) -> String {
            data.config(extra: """
                ensemble:
                  members: 3
                  models:
                    - \(TinyEnsembleData.small.replacingOccurrences(of: "\n  ", with: "\n      "))
                    - \(second.replacingOccurrences(of: "\n  ", with: "\n      "))
                """)
        }
        let first = EnsembleRunner(try ConfigLoader.load(yaml: yaml(bad)), options: quietly())
        #expect { try first.run() } throws: { e in
            let text = "\(e)"
            return e is UnfinishedJobs && text.contains("member-2") && text.contains("classes") && !text.contains("member-1")
        }
        #expect(first.finishedCheckpointIfAny(0) != nil && first.finishedCheckpointIfAny(2) != nil)
        #expect(first.finishedCheckpointIfAny(1) == nil)
        let summary1 = first.directory.appendingPathComponent("member-1/summary.json")
        let before = try Data(contentsOf: summary1)
        Thread.sleep(forTimeInterval: 0.01)

        var resume = quietly()
        resume.resume = true
        let second = EnsembleRunner(try ConfigLoader.load(yaml: yaml(TinyEnsembleData.small)), options: resume)
        let report = try #require(try second.run())
        #expect(report.members.count == 3)
        #expect(try Data(contentsOf: summary1) == before, "member-1 was not trained again")
        #expect(second.finishedCheckpointIfAny(1) != nil)
    }

    @Test func resumeRefusesAnotherBootstrapSample() throws {
        let data = TinyEnsembleData(train: 90, test: 30)
        defer { data.cleanUp() }
        let first = EnsembleRunner(try ConfigLoader.load(yaml: data.config(epochs: 1,
            extra: "ensemble: {members: 1, method: bagging}")), options: quietly())
        try first.run()
        var resume = quietly()
        resume.resume = true
        // The same ensemble now asks for half-size samples: the kept indices no longer fit.
        let changed = EnsembleRunner(try ConfigLoader.load(yaml: data.config(epochs: 1,
            extra: "ensemble: {members: 1, method: bagging, sample_fraction: 0.5}")), options: resume)
        #expect { try changed.run() } throws: { "\($0)".contains("bootstrap.json") && "\($0)".contains("another bootstrap sample") }
    }

    @Test func adaBoostRecordsMemberWeights() throws {
        let data = TinyEnsembleData()
        defer { data.cleanUp() }
        let runner = EnsembleRunner(try ConfigLoader.load(yaml: data.config(extra: """
            ensemble: {members: 2, method: adaboost}
            """)), options: quietly())
        let report = try #require(try runner.run())
        let rounds = try JSONDecoder().decode([AdaBoost.Round].self,
                                              from: Data(contentsOf: runner.directory.appendingPathComponent("boosting.json")))
        #expect(!rounds.isEmpty && rounds[0].alpha > 0)
        #expect(report.vote == "hard")
        #expect(report.members.map(\.weight) == rounds.filter { $0.alpha > 0 }.map(\.alpha))
        // α follows from the member's weighted error: ln((1 − ε)/ε) + ln 2 for 3 classes.
        let e = max(rounds[0].error, AdaBoost.errorFloor)
        #expect(abs(rounds[0].alpha - (log((1 - e) / e) + log(2.0))) < 1e-9)
    }

    @Test func badEnsembleSectionsNameKeyAndLine() throws {
        let data = TinyEnsembleData(train: 60, test: 30)
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(extra: "ensemble: {members: 2, method: boosting}"))
        #expect { try EnsembleRunner(loaded, options: quietly()).run() } throws: {
            let e = $0 as? ConfigError
            return e?.key == "ensemble.method" && e?.line != nil
        }
        #expect { try ConfigLoader.load(yaml: data.config(extra: "ensemble: {members: 2, voting: soft}")) } throws: {
            ($0 as? ConfigError)?.key == "ensemble.voting"
        }
        for (extra, key) in [("ensemble: {sample_fraction: 1.5}", "ensemble.sample_fraction"),
                             ("ensemble: {members: 0}", "ensemble.members"),
                             ("ensemble: {vote: median}", "ensemble.vote"),
                             ("ensemble: {groups: -1}", "ensemble.groups")] {
            let bad = try ConfigLoader.load(yaml: data.config(extra: extra))
            #expect { try EnsembleRunner(bad, options: quietly()).run() } throws: { ($0 as? ConfigError)?.key == key }
        }
        let text = try ConfigLoader.load(yaml: data.config(extra: "ensemble: {members: 2}")
            .replacingOccurrences(of: "dataset: idx", with: "dataset: text"))
        #expect { try EnsembleRunner(text, options: quietly()).run() } throws: { ($0 as? ConfigError)?.key == "data.dataset" }
        let noSection = try ConfigLoader.load(yaml: data.config())
        #expect { try EnsembleRunner(noSection, options: quietly()).run() } throws: { "\($0)".contains("ensemble") }
    }
}

@Suite(.serialized) struct AggregationTests {
    @Test func lastKAverageAndSoupsWriteUsableCheckpoints() throws {
        let data = TinyEnsembleData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(name: "one", epochs: 3, keep: 3))
        var o = TrainOptions()
        o.quiet = true
        let summary = try Trainer(loaded, options: o).run()
        let run = URL(fileURLWithPath: data.directory).appendingPathComponent("runs/one")
        let last = try Aggregation.lastCheckpoints(of: run, k: 3)
        #expect(last.count == 3)
        #expect(last.last?.standardizedFileURL.path == URL(fileURLWithPath: summary.checkpoint).standardizedFileURL.path)
        #expect { try Aggregation.lastCheckpoints(of: run, k: 4) } throws: { "\($0)".contains("fewer than 4") }

        let out = URL(fileURLWithPath: data.directory).appendingPathComponent("runs/avg")
        let soup = try Aggregation.soup(last, output: out)
        #expect(soup.batchNormLayers == 1)
        // The written checkpoint evaluates like any other, to the figure the soup reported.
        let eval = try CheckpointEvaluation.run(checkpoint: URL(fileURLWithPath: soup.checkpoint))
        #expect(abs(eval.accuracy - soup.testAccuracy) < 1e-12)
        let written = try Checkpoint<TrainerState>.load(from: URL(fileURLWithPath: soup.checkpoint), as: TrainerState.self)
        let parts = try last.map { try Checkpoint<TrainerState>.load(from: $0, as: TrainerState.self).model }
        let w = written.model["fc.weight"]!, expected = (0..<w.count).map { i in parts.map { Double($0["fc.weight"]!.data[i]) }.reduce(0, +) / 3 }
        for i in 0..<w.count { #expect(abs(Double(w.data[i]) - expected[i]) < 1e-6) }

        // A soup of one checkpoint with itself keeps its weights; the greedy soup starts
        // from the best on validation and never ends below it.
        let same = try Aggregation.soup([last[2], last[2]], output: out)
        let a = try Checkpoint<TrainerState>.load(from: URL(fileURLWithPath: same.checkpoint), as: TrainerState.self).model
        #expect(a["conv1.weight"]!.data[0] == parts[2]["conv1.weight"]!.data[0])
        let greedy = try Aggregation.greedySoup(last, output: out)
        #expect(greedy.validationAccuracy! >= greedy.ingredientAccuracies[0])
        #expect(greedy.ingredientAccuracies[0] == greedy.ingredientAccuracies.max())
    }

    @Test func greedySoupNeedsAValidationSplit() throws {
        let data = TinyEnsembleData(train: 90, test: 30)
        defer { data.cleanUp() }
        var o = TrainOptions()
        o.quiet = true
        let summary = try Trainer(try ConfigLoader.load(yaml: data.config(name: "noval", epochs: 1)
            .replacingOccurrences(of: "validation: 30", with: "validation: 0")), options: o).run()
        let url = URL(fileURLWithPath: summary.checkpoint)
        #expect { try Aggregation.greedySoup([url, url], output: URL(fileURLWithPath: data.directory + "/soup")) }
            throws: { "\($0)".contains("data.validation") }
    }

    @Test func batchNormReestimationGivesTheDataMean() throws {
        let data = TinyEnsembleData(train: 120, test: 30)
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(extra: "").replacingOccurrences(of: "validation: 30", with: "validation: 0"))
        let d = try TrainingData.load(loaded.config, fail: loaded.error)
        let bn = PhalanxNN.BatchNorm(features: 1)
        bn.runningMean.value.fill(5)
        try WeightAveraging.reestimateBatchNorm(bn, on: d.train, normalization: nil, batchSize: 40)
        var mean = 0.0
        for i in 0..<d.train.images.count { mean += Double(d.train.images.data[i]) }
        mean /= Double(d.train.images.count)
        #expect(abs(Double(bn.runningMean.value.data[0]) - mean) < 1e-3 * max(1, abs(mean)))
        #expect(bn.momentum == 0.1, "the momentum is restored")
        #expect(bn.numBatchesTracked.value.data[0] == 3)
    }
}

@Suite(.serialized) struct SweepTests {
    @Test func gridSweepRanksTrialsAndWritesTheBestConfig() throws {
        let data = TinyEnsembleData(train: 120, test: 30)
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(name: "sw", epochs: 1, extra: """
            sweep:
              method: grid
              parameters:
                train.optimizer.lr: {values: [0.0001, 0.1]}
            """))
        let runner = SweepRunner(loaded, options: quietly())
        let results = try runner.run()
        #expect(results.count == 2)
        #expect(results[0].metric >= results[1].metric)
        #expect(Set(results.map(\.trial)) == ["trial-001", "trial-002"])
        let best = try String(contentsOf: runner.directory.appendingPathComponent("best.yaml"), encoding: .utf8)
        let reloaded = try ConfigLoader.load(yaml: best)
        #expect(reloaded.config.name == "sw-best")
        #expect(reloaded.config.sweep == nil)
        #expect("\(reloaded.config.train.optimizer.lr)" == results[0].values["train.optimizer.lr"]!
                || reloaded.config.train.optimizer.lr == Float(results[0].values["train.optimizer.lr"]!)!)
        let json = try JSONDecoder().decode([SweepResult].self, from: Data(contentsOf: runner.directory.appendingPathComponent("sweep.json")))
        #expect(json.map(\.trial) == results.map(\.trial))
        // Resume: nothing left to train, the same table.
        var again = quietly()
        again.resume = true
        #expect(try SweepRunner(loaded, options: again).run().map(\.trial) == results.map(\.trial))
    }

    @Test func validationMetricNeedsAValidationSplit() throws {
        let data = TinyEnsembleData(train: 60, test: 30)
        defer { data.cleanUp() }
        let yaml = data.config(extra: "sweep: {parameters: {train.optimizer.lr: {values: [0.1]}}}")
            .replacingOccurrences(of: "validation: 30", with: "validation: 0")
        #expect { try SweepRunner(try ConfigLoader.load(yaml: yaml), options: quietly()).run() } throws: {
            ($0 as? ConfigError)?.key == "sweep.metric"
        }
    }
}
