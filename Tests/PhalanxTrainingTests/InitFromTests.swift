// `init_from:` — a fresh run starts from another run's weights, with a name mapping,
// strict or not; what does not fit is named with the file, the tensor and the config key.
import Foundation
import PhalanxCore
import PhalanxNN
import PhalanxTestSupport
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct InitFromTests {
    func model(_ yaml: String) throws -> Layer {
        let loaded = try ConfigLoader.load(yaml: "name: m\n" + yaml)
        return try ModelBuilder.build(loaded.config.model, seed: 3).network
    }

    let encoder = """
    model:
      input: [6]
      layers:
        - {kind: linear, name: enc1, out: 4}
        - {kind: sigmoid}
        - {kind: linear, name: dec1, out: 6}
    """
    let classifier = """
    model:
      input: [6]
      layers:
        - {kind: linear, name: fc1, out: 4}
        - {kind: sigmoid}
        - {kind: linear, name: head, out: 3}
    """

    @Test func setToNullUnsetsIt() throws {
        let yaml = "name: m\ninit_from: runs/x/checkpoints/latest\nmodel: {input: [2], layers: [{kind: linear, out: 1}]}\n"
        #expect(try ConfigLoader.load(yaml: yaml).config.initFrom == InitFromConfig(checkpoint: "runs/x/checkpoints/latest"))
        #expect(try ConfigLoader.load(yaml: yaml, overrides: ["init_from=null"]).config.initFrom == nil)
    }

    @Test func aMappedPrefixCopiesTheEncoderAndKeepsTheRest() throws {
        let source = ModelState.tensors(of: try model(encoder))
        let target = try model(classifier)
        let headBefore = target.parameters.first { $0.name == "head.weight" }!.value.scalars
        let config = InitFromConfig(checkpoint: "x", map: ["fc1.": "enc1."], strict: false)
        let report = try ModelState.initialize(target, from: source, file: "x", config: config)
        #expect(report.loaded == ["fc1.weight", "fc1.bias"])
        #expect(report.kept == ["head.weight", "head.bias"])
        #expect(report.unused == ["dec1.bias", "dec1.weight"])
        #expect(target.parameters.first { $0.name == "fc1.weight" }!.value.scalars == source["enc1.weight"]!.scalars)
        #expect(target.parameters.first { $0.name == "head.weight" }!.value.scalars == headBefore)
    }

    @Test func strictRefusesMissingAndUnusedAndShapesMustMatch() throws {
        let source = ModelState.tensors(of: try model(encoder))
        let target = try model(classifier)
        let before = target.parameters.map(\.value.scalars)
        #expect(throws: CheckpointError(file: "src", .missingTensor("fc1.weight"))) {
            _ = try ModelState.initialize(target, from: source, file: "src", config: InitFromConfig(checkpoint: "src"))
        }
        // head [3, 4] from dec1 [6, 4]: a shape that differs is an error even when not strict.
        let wrong = InitFromConfig(checkpoint: "src", map: ["fc1.": "enc1.", "head.": "dec1."], strict: false)
        #expect(throws: CheckpointError(file: "src", .shapeMismatch(tensor: "dec1.weight → head.weight", expected: [3, 4], found: [6, 4]))) {
            _ = try ModelState.initialize(target, from: source, file: "src", config: wrong)
        }
        #expect(target.parameters.map(\.value.scalars) == before, "a failed initialisation changes nothing")
    }

    @Test func aRunStartsFromAnotherRunsWeightsAndNamesTheKeyWhenTheyDoNotFit() throws {
        TaskRegistry.register(RegressionTask.kind)
        let dir = NSTemporaryDirectory() + "phalanx-init-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func yaml(_ name: String, hidden: Int, initFrom: String = "") -> String {
            """
            name: \(name)
            seed: 2
            task: regression
            data: {samples: 128, features: 3, validation: 32, test_samples: 32}
            model: {input: [3], layers: [{kind: linear, name: h, out: \(hidden)}, {kind: tanh}, {kind: linear, name: out, out: 1}]}
            train: {epochs: 3, batch_size: 32, optimizer: {kind: adam, lr: 0.01}}
            checkpoint: {directory: \(dir)/runs}
            \(initFrom)
            """
        }
        let first = try RegressionTask.kind.train(try ConfigLoader.load(yaml: yaml("first", hidden: 8)), options: quiet())
        // Starting from the first run's weights, the second starts where the first ended.
        let second = try ConfigLoader.load(yaml: yaml("second", hidden: 8, initFrom: "init_from: \(first.checkpoint)"))
        var once = quiet()
        once.stopAfterEpochs = 1
        _ = try RegressionTask.kind.train(second, options: once)
        _ = try RegressionTask.kind.train(try ConfigLoader.load(yaml: yaml("fresh", hidden: 8)), options: once)
        func firstTrainLoss(_ run: String) throws -> Double {
            let line = try String(contentsOfFile: "\(dir)/runs/\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")[0]
            return try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["loss"] as? Double)
        }
        // The first run's 3 epochs are worth something: its weights start lower than the initialisers.
        #expect(try firstTrainLoss("second") < firstTrainLoss("fresh") / 2)

        let misfit = try ConfigLoader.load(yaml: yaml("third", hidden: 5, initFrom: "init_from: {checkpoint: \(first.checkpoint)}"))
        #expect { try RegressionTask.kind.train(misfit, options: quiet()) } throws: {
            let e = $0 as? ConfigError
            return e?.key == "init_from.checkpoint" && e?.line == 8 && "\($0)".contains("h.weight")
        }
    }
}
