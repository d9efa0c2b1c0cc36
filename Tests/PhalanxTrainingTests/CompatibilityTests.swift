// Checkpoints written before the one training loop (Tests/Fixtures/v1, made by main at
// c6b8c93) still evaluate to the figures their runs reported, and resume to the very
// weights the old code reached training straight through.
import Foundation
import PhalanxCore
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct CompatibilityTests {
    static let root = "/tmp/phalanx-fixture-v1"

    /// A fresh copy of the fixture where its configs expect it.
    func install() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/v1")
        try? FileManager.default.removeItem(atPath: Self.root)
        try FileManager.default.copyItem(at: source, to: URL(fileURLWithPath: Self.root))
    }

    func summary(_ run: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Self.root)/runs/\(run)/summary.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func latest(_ run: String) -> URL { URL(fileURLWithPath: "\(Self.root)/runs/\(run)/checkpoints/latest") }

    @Test func oldCheckpointsEvaluateAsTheirRunsReported() throws {
        try install()
        defer { try? FileManager.default.removeItem(atPath: Self.root) }
        let classifier = try TaskRegistry.kind(ofCheckpoint: latest("classifier")).evaluate(checkpoint: latest("classifier"))
        #expect(classifier.values["accuracy"] == (try summary("classifier"))["test_accuracy"] as? Double)
        #expect(abs(classifier.values["loss"]! - ((try summary("classifier"))["test_loss"] as! Double)) < 1e-6)
        let lm = try TaskRegistry.kind(ofCheckpoint: latest("charlm")).evaluate(checkpoint: latest("charlm"))
        #expect(abs(lm.values["held_out_bits_per_character"]! - ((try summary("charlm"))["held_out_bits_per_character"] as! Double)) < 1e-9)
        let s2s = try TaskRegistry.kind(ofCheckpoint: latest("seq2seq")).evaluate(checkpoint: latest("seq2seq"))
        #expect(s2s.values["test_exact_match"] == (try summary("seq2seq"))["test_exact_match"] as? Double)
        #expect(try CheckpointKind.of(latest("charlm")) == .languageModel)
        #expect(try CheckpointKind.of(latest("seq2seq")) == .encoderDecoder)
        #expect(try CheckpointKind.of(latest("classifier")) == .classifier)
        // Sampling from the old language model works as before.
        _ = try TaskRegistry.kind(ofCheckpoint: latest("charlm"))
            .generate(checkpoint: latest("charlm"), GenerationRequest(prompt: "ab", length: 4, temperature: 0))
    }

    @Test(arguments: ["classifier", "charlm", "seq2seq"])
    func oldCheckpointsResumeToTheOldCodesWeights(task: String) throws {
        try install()
        defer { try? FileManager.default.removeItem(atPath: Self.root) }
        let config = try ConfigLoader.load(path: "\(Self.root)/\(task).yaml")
        var options = TrainOptions()
        options.quiet = true
        options.resume = true
        let summary = try TaskRegistry.kind(of: config).train(config, options: options)
        #expect(summary.epochs == 2)
        // `latest`: with early stopping on, the summary names the best checkpoint instead.
        let resumed = try ModelState.tensors(ofCheckpoint: latest(task).path)
        let straight = try ModelState.tensors(ofCheckpoint: latest("\(task)-straight").path)
        #expect(resumed.keys.sorted() == straight.keys.sorted())
        for (name, values) in straight { #expect(resumed[name] == values, "\(task): \(name) differs from the old code's") }
    }
}
