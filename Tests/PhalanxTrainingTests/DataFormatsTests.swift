// `data.format`: NumPy files and CSV tables load through the config into the same splits
// as IDX would, and every misuse of the format keys is a config error naming key and line.
import Foundation
import PhalanxCore
import PhalanxData
@testable import PhalanxTraining
import Testing

@Suite struct DataFormatsTests {
    /// TinyData's IDX splits written again as four .npy files (float32 images, int32 labels).
    func npyCopy(_ data: TinyData) throws -> String {
        let idx = try ConfigLoader.load(yaml: data.config())
        let splits = try TrainingData.load(idx.config, fail: idx.error)
        let train = try Dataset.load(images: data.directory + "/train-images-idx3-ubyte.gz",
                                     labels: data.directory + "/train-labels-idx1-ubyte.gz")
        try NumPy.write(train.images, to: data.directory + "/x_train.npy")
        try NumPy.write(train.labels, shape: [train.count], to: data.directory + "/y_train.npy")
        try NumPy.write(splits.test.images, to: data.directory + "/x_test.npy")
        try NumPy.write(splits.test.labels, shape: [splits.test.count], to: data.directory + "/y_test.npy")
        return data.config().replacingOccurrences(of: """
              dataset: idx
              directory: \(data.directory)
              train_images: train-images-idx3-ubyte.gz
              train_labels: train-labels-idx1-ubyte.gz
              test_images: t10k-images-idx3-ubyte.gz
              test_labels: t10k-labels-idx1-ubyte.gz
            """, with: """
              format: npy
              train_images: \(data.directory)/x_train.npy
              train_labels: \(data.directory)/y_train.npy
              test_images: \(data.directory)/x_test.npy
              test_labels: \(data.directory)/y_test.npy
            """)
    }

    @Test func npyFilesGiveTheSplitsIDXGives() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let idx = try ConfigLoader.load(yaml: data.config())
        let npy = try ConfigLoader.load(yaml: try npyCopy(data))
        #expect(npy.config.data.format == "npy")
        let a = try TrainingData.load(idx.config, fail: idx.error), b = try TrainingData.load(npy.config, fail: npy.error)
        #expect(a.fingerprint == b.fingerprint, "same pixels, labels, validation split")
        #expect(a.normalization == b.normalization)
    }

    @Test func csvTableTrainsAnMLP() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        // Two features that separate two classes.
        var rows = ["f1,f2,label"]
        var rng = RNG(seed: 3)
        for i in 0..<80 {
            let c = i % 2
            rows.append("\(Float(c) * 2 + rng.uniform(-0.5, 0.5)),\(rng.uniform(0, 1)),\(c)")
        }
        try rows.joined(separator: "\n").write(toFile: data.directory + "/t.csv", atomically: true, encoding: .utf8)
        let yaml = """
            name: tab
            data: {format: csv, train: \(data.directory)/t.csv, test: \(data.directory)/t.csv, validation: 20}
            model:
              input: [2, 1, 1]
              layers: [{kind: flatten}, {kind: linear, name: fc1, out: 8}, {kind: relu}, {kind: linear, name: fc2, out: 2}]
            train: {epochs: 15, batch_size: 20, optimizer: {kind: adam, lr: 0.05}, threads: 1}
            checkpoint: {directory: \(data.directory)/runs}
            """
        let loaded = try ConfigLoader.load(yaml: yaml)
        let splits = try TrainingData.load(loaded.config, fail: loaded.error)
        #expect(splits.train.sampleShape == [2, 1, 1] && splits.train.count == 60 && splits.validation?.count == 20)
        let summary = try TaskRegistry.kind(of: loaded).train(loaded, options: quiet())
        #expect((summary.metrics["test_accuracy"] ?? 0) > 0.9, "\(summary.metrics)")
    }

    /// Loads `yaml` and the data it names, expecting a config error at `key` on `line`.
    func expectConfigError(_ yaml: String, key: String, line: Int?, _ text: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: ConfigError.self, sourceLocation: sourceLocation) {
            let loaded = try ConfigLoader.load(yaml: yaml, file: "x.yaml")
            _ = try TrainingData.load(loaded.config, fail: loaded.error)
        }
        #expect(error?.key == key, sourceLocation: sourceLocation)
        #expect(error?.line == line, "\(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.description.contains(text) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    @Test func formatKeysAreCheckedByKeyAndLine() {
        let model = "model: {input: [1, 2, 2], layers: [{kind: flatten}]}\n"
        expectConfigError("data:\n  format: parquet\n" + model, key: "data.format", line: 2, "known: idx, npy, csv, image_folder")
        expectConfigError("data:\n  format: csv\n  test: t.csv\n" + model, key: "data.train", line: nil, "needs 'train'")
        expectConfigError("data:\n  format: image_folder\n  train: a\n  test: b\n  channels: 2\n" + model,
                          key: "data.channels", line: 5, "1 (greyscale) or 3")
        expectConfigError("data:\n  format: npy\n  train: d.npz\n  label_column: y\n" + model,
                          key: "data.label_column", line: 4, "data.format csv")
        expectConfigError("data:\n  format: npy\n  train: d.npz\n  train_keys: [x]\n" + model,
                          key: "data.train_keys", line: 4, "two names")
        expectConfigError("data:\n  format: npy\n  train: d.npy\n" + model, key: "data.train", line: 3, "train_images")
        expectConfigError("data:\n  format: npy\n  train_images: x.npy\n" + model, key: "data.train_labels", line: nil, "missing")
        expectConfigError("data:\n  train: d.npz\n" + model, key: "data.train", line: 2, "set data.format")
        expectConfigError("data:\n  format: csv\n  dataset: mnist\n  train: a\n  test: b\n" + model,
                          key: "data.dataset", line: 3, "IDX")
    }
}
