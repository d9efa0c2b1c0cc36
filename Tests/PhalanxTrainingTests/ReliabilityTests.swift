// Nothing lost, nothing silently wrong: a run keeps its identity, resume takes its own
// `latest` and falls back past checkpoints that do not fit, pruning keeps usable
// checkpoints, interrupted writes are cleaned up, non-finite values are named, and bad
// values are config errors that name their key.
import Foundation
import PhalanxCore
import PhalanxNN
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct ReliabilityTests {
    @Test func aFreshStartMovesTheEarlierRunAsideAndResumeContinuesItsOwn() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let runs = URL(fileURLWithPath: "\(data.directory)/runs")
        // Run A: three epochs. Run B, same name, another learning rate: one epoch, then resumed.
        _ = try Trainer(try ConfigLoader.load(yaml: data.config(name: "x"), overrides: ["train.epochs=3"]), options: quiet()).run()
        let b = try ConfigLoader.load(yaml: data.config(name: "x"), overrides: ["train.optimizer.lr=0.05"])
        _ = try Trainer(b, options: quiet(stopAfter: 1)).run()
        let archived = try FileManager.default.contentsOfDirectory(atPath: runs.path).filter { $0.hasPrefix("x-archived-") }
        #expect(archived.count == 1)
        #expect(CheckpointStore(run: archived[0], runs: runs).steps() == [7, 14, 21])
        #expect(CheckpointStore(run: "x", runs: runs).steps() == [7])
        let resumed = try Trainer(b, options: quiet(resume: true)).run()
        #expect(resumed.steps == 14)
        let straight = try Trainer(try ConfigLoader.load(yaml: data.config(name: "y"), overrides: ["train.optimizer.lr=0.05"]),
                                   options: quiet()).run()
        #expect(try ModelState.tensors(ofCheckpoint: "\(runs.path)/x/checkpoints/latest")
                == (try ModelState.tensors(ofCheckpoint: "\(runs.path)/y/checkpoints/latest")))
        #expect(resumed.testAccuracy == straight.testAccuracy)
        // B's metrics hold B's epochs only.
        #expect(try MetricsLog.read(runs.appendingPathComponent("x/metrics.jsonl")).filter { $0.split == "train" }.count == 2)
    }

    @Test func resumeFallsBackPastCheckpointsThatDoNotFitAndPruningKeepsUsableOnes() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let runs = URL(fileURLWithPath: "\(data.directory)/runs")
        let config = try ConfigLoader.load(yaml: data.config(name: "f"), overrides: ["checkpoint.keep=2", "train.epochs=3"])
        _ = try Trainer(config, options: quiet(stopAfter: 2)).run()
        let store = CheckpointStore(run: "f", runs: runs)
        #expect(store.steps() == [7, 14])
        // Newer, verifying checkpoints that are not this run's model: another model's
        // tensors (step 20) and a negative step count in trainer.json (step 30); an empty
        // step directory (40) and an interrupted write.
        var rng = RNG(seed: 1)
        let other = Sequential([("fc", Linear(inputs: 2, outputs: 2, rng: &rng))])
        let copy = try Checkpoint<RunState>.load(from: store.url(step: 14), as: RunState.self).trainer
        try store.save(step: 20, model: other, optimizer: [:], trainer: copy)
        // (Step 30 holds step 7's weights: were it taken, the run would not end as a straight one.)
        let older = try Checkpoint<RunState>.load(from: store.url(step: 7), as: RunState.self)
        let badStep = try store.save(step: 30, model: older.model, optimizer: older.optimizer, trainer: copy)
        let json = badStep.appendingPathComponent("trainer.json")
        try String(contentsOf: json, encoding: .utf8).replacingOccurrences(of: "\"step\" : 30", with: "\"step\" : -5")
            .write(to: json, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: store.url(step: 40), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: store.directory.appendingPathComponent(".tmp-step-000050-99"),
                                                withIntermediateDirectories: true)
        try DurableFile.replaceSymlink(store.directory.appendingPathComponent("latest"), target: "step-000030")
        let point = try #require(try store.resume(as: RunState.self))
        #expect(point.checkpoint.step == 20 && point.skipped.map(\.description).contains { $0.contains("-5") })
        let resumed = try Trainer(config, options: quiet(resume: true)).run()
        #expect(resumed.steps == 21)
        // The resumed run continued from step 14: the weights of a straight run.
        let straight = try Trainer(try ConfigLoader.load(yaml: data.config(name: "g"), overrides: ["train.epochs=3"]),
                                   options: quiet()).run()
        #expect(try ModelState.tensors(ofCheckpoint: "\(runs.path)/f/checkpoints/latest")
                == (try ModelState.tensors(ofCheckpoint: straight.checkpoint)))
        // The temporary is gone; the empty directory is left alone and not counted toward keep 2.
        let names = try FileManager.default.contentsOfDirectory(atPath: store.directory.path)
        #expect(!names.contains { $0.hasPrefix(".tmp-") })
        // Unusable: 30 (negative step) and 40 (empty), left alone; usable: the newest two, and what `best` names.
        let usable = store.steps().filter { store.isUsable(step: $0) }
        #expect(store.steps().filter { !store.isUsable(step: $0) } == [30, 40])
        #expect(Set(usable) == Set([20, 21] + [store.bestStep()].compactMap { $0 }), "kept \(usable)")
    }

    @Test func countsNoRunWritesAreRefusedByField() throws {
        // `epoch: 10^15` in trainer.json once printed "after -1530494976 epochs".
        let data = TinyData()
        defer { data.cleanUp() }
        let config = try ConfigLoader.load(yaml: data.config(name: "counts"), overrides: ["train.epochs=1"])
        let done = try Trainer(config, options: quiet()).run()
        let json = URL(fileURLWithPath: done.checkpoint).appendingPathComponent("trainer.json")
        let text = try String(contentsOf: json, encoding: .utf8)
        for (field, from, to) in [("epoch", "\"epoch\" : 1,", "\"epoch\" : 1000000000000000,"),
                                  ("world_size", "\"world_size\" : 1", "\"world_size\" : 0")] {
            #expect(text.contains(from))
            try text.replacingOccurrences(of: from, with: to).write(to: json, atomically: true, encoding: .utf8)
            #expect { try Checkpoint<RunState>.load(from: URL(fileURLWithPath: done.checkpoint), as: RunState.self) } throws: {
                "\($0)".contains("trainer.json") && "\($0)".contains(field)
            }
            #expect { try Trainer(config, options: quiet(resume: true)).run() } throws: { "\($0)".contains(field) }
        }
    }

    @Test func evaluateRefusesNonFiniteResults() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let summary = try Trainer(try ConfigLoader.load(yaml: data.config(name: "n"), overrides: ["train.epochs=1"]),
                                  options: quiet()).run()
        let store = CheckpointStore(run: "n", runs: URL(fileURLWithPath: "\(data.directory)/runs"))
        let ckpt = try Checkpoint<TrainerState>.load(from: URL(fileURLWithPath: summary.checkpoint), as: TrainerState.self)
        var tensors = ckpt.model
        let name = "fc.weight"
        let bad = try #require(tensors[name]).copy()
        bad[0] = .nan
        tensors.entries[name]?.tensor = bad
        try store.save(step: 99, model: tensors, optimizer: ckpt.optimizer, trainer: ckpt.trainer)
        #expect { try ClassificationTask.kind.evaluate(checkpoint: store.url(step: 99)) } throws: {
            "\($0)".contains("is NaN or infinite")
        }
    }

    @Test func badValuesAreConfigErrorsNamingTheirKey() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let cases: [(String, String)] = [
            ("model.layers.1.momentum=5", "model.layers.1.momentum"),
            ("model.layers.1.eps=0", "model.layers.1.eps"),
            ("model.input=[1, 14, 14]", "model.input"),
            ("model.layers.0.padding=100000", "model.layers.0"),
            ("model.layers.6.out=100000000", "model.layers.6"),
            ("model.layers.0.repeat=100000000", "model.layers.0.repeat"),
            ("data.validation=-5", "data.validation"),
            ("data.limit=-1", "data.limit"),
            ("data.crop_padding=100", "data.crop_padding"),
            ("train.log_every=0", "train.log_every"),
            ("name=..", "name"),
            ("train.batch_size=3000000", "train.batch_size"),
            ("model.layers.2={kind: concat, branches: [{kind: relu, name: a}, {kind: tanh, name: a}]}",
             "model.layers.2.branches.1.name"),
        ]
        for (override, key) in cases {
            let config = try ConfigLoader.load(yaml: data.config(name: "v"), overrides: [override])
            #expect { try Trainer(config, options: quiet()).run() } throws: { error in
                (error as? ConfigError)?.key == key
            }
        }
        let lrn = try ConfigLoader.load(yaml: data.config(name: "v"), overrides: ["model.layers.1={kind: lrn, size: 0}"])
        #expect { try Trainer(lrn, options: quiet()).run() } throws: { ($0 as? ConfigError)?.key == "model.layers.1.size" }
    }

    @Test func aBatchThatDoesNotFitInMemoryIsRefusedWithTheFigure() throws {
        let model = try ConfigLoader.load(yaml: TinyData.modelOnly).config.model
        let built = try ModelBuilder.build(model, seed: 1)
        let fail: (String, String) -> ConfigError = { ConfigError(file: "m.yaml", key: $0, $1) }
        try built.checkMemory(samples: 1000, fail: fail, available: 1 << 30)
        #expect { try built.checkMemory(samples: 1_000_000, fail: fail, available: 1 << 30) } throws: {
            let e = $0 as? ConfigError
            return e?.key == "train.batch_size" && e?.message.contains("GiB") == true && e?.message.contains("model.layers.0") == true
        }
    }

    @Test func aFailedMetricsWriteIsAnErrorNamingTheFile() throws {
        let log = try MetricsLog(url: URL(fileURLWithPath: "/dev/full"), keepThroughStep: 0)
        #expect { try log.append(MetricRecord(step: 1, epoch: 1, split: "train", loss: 1, time: 0)) } throws: {
            "\($0)".contains("/dev/full")
        }
    }

    @Test func configErrorsNameTheSetOrTheLineNotTheWholeFile() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        #expect { try ConfigLoader.load(yaml: data.config(), file: "x.yaml", overrides: ["train.epochs=abc"]) } throws: {
            "\($0)".hasPrefix("--set train.epochs=abc: key 'train.epochs'")
        }
        let config = try ConfigLoader.load(yaml: data.config(), file: "x.yaml", overrides: ["train.epochs=0"])
        #expect { try Trainer(config, options: quiet()).run() } throws: { "\($0)".hasPrefix("--set train.epochs=0: key 'train.epochs'") }
        #expect { try ConfigLoader.load(yaml: "name: a\nseed: 1\nname: b\n", file: "d.yaml") } throws: { error in
            let e = error as? ConfigError
            return e?.line == 3 && !(e?.message.contains("Context") ?? true) && e?.message.contains("'name'") == true
        }
        // What changed since the checkpoint, key by key.
        let a = try ConfigLoader.load(yaml: data.config()).config
        let b = try ConfigLoader.load(yaml: data.config(), overrides: ["train.optimizer.lr=0.05", "data.normalize=min_max"]).config
        #expect(b.differences(from: a) == ["data.normalize: standardize → min_max", "train.optimizer.lr: 0.1 → 0.05"])
    }

    @Test func aCheckpointDirectoryThatCannotBeWrittenStopsTheRunBeforeTraining() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let file = "\(data.directory)/not-a-directory"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let config = try ConfigLoader.load(yaml: data.config(), overrides: ["checkpoint.directory=\(file)"])
        let started = Date()
        #expect { try Trainer(config, options: quiet()).run() } throws: { "\($0)".contains("checkpoint directory") }
        #expect(Date().timeIntervalSince(started) < 5)
    }
}

extension TinyData {
    /// The tiny classifier's model section alone.
    static let modelOnly = """
        model:
          input: [1, 8, 8]
          layers:
            - {kind: conv2d, name: conv1, out: 4, kernel: 3, padding: 1}
            - {kind: relu}
            - {kind: flatten}
            - {kind: linear, name: fc, out: 3}
        """
}
