import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN
import PhalanxTestSupport
@testable import PhalanxTraining
import Testing

/// A directory with a tiny learnable IDX data set: 8×8 images, 3 classes; the class
/// says which third of the image (top, middle, bottom) is bright, plus noise.
struct TinyData {
    let directory: String

    init(train: Int = 240, test: Int = 60) {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("phalanx-train-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var images = BandImages(side: 8, seed: 11, label: { $0 % 3 }, band: { $0 * 3 / 8 }, bright: 150, dark: 40, noise: 100)
        try! images.write(train: train, test: test, to: directory)
    }

    func config(name: String = "tiny", extra: String = "") -> String {
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
          input: [1, 8, 8]
          layers:
            - {kind: conv2d, name: conv1, out: 4, kernel: 3, padding: 1}
            - {kind: batchnorm, name: bn1}
            - {kind: relu}
            - {kind: maxpool, kernel: 2}
            - {kind: flatten}
            - {kind: dropout, p: 0.1}
            - {kind: linear, name: fc, out: 3}
        train:
          epochs: 2
          batch_size: 30
          optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}
          schedule: {kind: cosine}
          threads: 1
        checkpoint:
          directory: \(directory)/runs
          keep: 5
        \(extra)
        """
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite(.serialized) struct TrainerTests {
    func quiet() -> TrainOptions {
        var o = TrainOptions()
        o.quiet = true
        return o
    }

    @Test func trainsEndToEndAndEvaluateAgrees() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(), overrides: ["train.epochs=4"])
        let summary = try Trainer(loaded, options: quiet()).run()
        #expect(summary.testAccuracy > 0.9, "tiny problem should be learnt, got \(summary.testAccuracy)")
        let again = try CheckpointEvaluation.run(checkpoint: URL(fileURLWithPath: summary.checkpoint))
        #expect(again.accuracy == summary.testAccuracy && again.count == 60)
        let metrics = try MetricsLog.read(URL(fileURLWithPath: "\(data.directory)/runs/tiny/metrics.jsonl"))
        #expect(metrics.filter { $0.split == "train" }.count == 4)
        #expect(metrics.last?.split == "test" && metrics.last?.accuracy == summary.testAccuracy)
    }

    @Test func resumeIsExactBitForBit() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let straight = try ConfigLoader.load(yaml: data.config(name: "straight"))
        try Trainer(straight, options: quiet()).run()

        let split = try ConfigLoader.load(yaml: data.config(name: "split"))
        var first = quiet()
        first.stopAfterEpochs = 1
        try Trainer(split, options: first).run()
        var second = quiet()
        second.resume = true
        try Trainer(split, options: second).run()

        let a = try CheckpointStore(run: "straight", runs: URL(fileURLWithPath: "\(data.directory)/runs")).loadLatest(as: TrainerState.self)!
        let b = try CheckpointStore(run: "split", runs: URL(fileURLWithPath: "\(data.directory)/runs")).loadLatest(as: TrainerState.self)!
        #expect(a.step == b.step && a.step == 2 * 7)
        #expect(a.model.names == b.model.names)
        for name in a.model.names {
            #expect(a.model[name]!.scalars == b.model[name]!.scalars, "\(name) differs after resume")
        }
        for name in a.optimizer.names {
            #expect(a.optimizer[name]!.scalars == b.optimizer[name]!.scalars, "optimizer \(name) differs after resume")
        }
    }

    @Test func resumeFallsBackPastACorruptCheckpoint() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(name: "corrupt"))
        try Trainer(loaded, options: quiet()).run()
        let store = CheckpointStore(run: "corrupt", runs: URL(fileURLWithPath: "\(data.directory)/runs"))
        let newest = store.url(step: store.latestStep()!).appendingPathComponent(CheckpointLayout.model)
        let handle = try FileHandle(forUpdating: newest)
        handle.seek(toFileOffset: 200)
        handle.write(Data([0xFF, 0xEE]))
        try handle.close()
        var options = quiet()
        options.resume = true
        let summary = try Trainer(loaded, options: options).run()
        // It fell back to epoch 1's checkpoint and trained epoch 2 again.
        #expect(summary.steps == 14 && summary.epochs == 2)
    }

    @Test func modelErrorsNameTheLayerKeyAndLine() throws {
        let data = TinyData(train: 30, test: 3)
        defer { data.cleanUp() }
        let bad = data.config().replacingOccurrences(of: "{kind: maxpool, kernel: 2}", with: "{kind: maxpool, kernel: 9}")
        let loaded = try ConfigLoader.load(yaml: bad, file: "tiny.yaml")
        #expect {
            try Trainer(loaded, options: quiet()).run()
        } throws: { error in
            let e = error as! ConfigError
            return e.key == "model.layers.3" && e.line == 17 && e.message.contains("does not fit")
        }
        let unknown = try ConfigLoader.load(yaml: data.config().replacingOccurrences(of: "kind: relu", with: "kind: relux"))
        #expect(throws: ConfigError.self) { try Trainer(unknown, options: quiet()).run() }
        let misplaced = try ConfigLoader.load(yaml: data.config().replacingOccurrences(of: "{kind: relu}", with: "{kind: relu, p: 0.5}"))
        #expect { try Trainer(misplaced, options: quiet()).run() } throws: { ($0 as! ConfigError).key == "model.layers.2.p" }
    }

    @Test func badTrainingValuesAreConfigErrors() throws {
        let data = TinyData(train: 60, test: 3)
        defer { data.cleanUp() }
        for (override, key) in [("train.optimizer.lr=-1", "train.optimizer.lr"), ("train.optimizer.kind=sgdx", "train.optimizer.kind"),
                                ("train.epochs=0", "train.epochs"), ("train.loss=hinge", "train.loss"),
                                ("data.normalize=zscore", "data.normalize")] {
            let loaded = try ConfigLoader.load(yaml: data.config(), overrides: [override])
            #expect { try Trainer(loaded, options: quiet()).run() } throws: { ($0 as? ConfigError)?.key == key }
        }
    }

    @Test func missingDataNamesTheFile() throws {
        let data = TinyData(train: 30, test: 3)
        defer { data.cleanUp() }
        try FileManager.default.removeItem(atPath: "\(data.directory)/t10k-labels-idx1-ubyte.gz")
        let loaded = try ConfigLoader.load(yaml: data.config())
        #expect { try Trainer(loaded, options: quiet()).run() } throws: { "\($0)".contains("t10k-labels-idx1-ubyte.gz") }
    }
}
