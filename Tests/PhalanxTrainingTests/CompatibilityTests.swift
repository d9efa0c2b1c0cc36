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
        // The LSTM's gates now go through Phalanx's vector sigmoid and tanh (within 2 ulp of
        // libm's, not the same bits), so the figure agrees to rounding, not to the last bit.
        let bits = lm.values["held_out_bits_per_character"]!, reported = (try summary("charlm"))["held_out_bits_per_character"] as! Double
        #expect(abs(bits - reported) < 1e-6 * reported, "\(bits) against the reported \(reported)")
        let s2s = try TaskRegistry.kind(ofCheckpoint: latest("seq2seq")).evaluate(checkpoint: latest("seq2seq"))
        #expect(s2s.values["test_exact_match"] == (try summary("seq2seq"))["test_exact_match"] as? Double)
        #expect(try CheckpointKind.of(latest("charlm")) == .languageModel)
        #expect(try CheckpointKind.of(latest("seq2seq")) == .encoderDecoder)
        #expect(try CheckpointKind.of(latest("classifier")) == .classifier)
        // Sampling from the old language model works as before.
        _ = try TaskRegistry.kind(ofCheckpoint: latest("charlm"))
            .generate(checkpoint: latest("charlm"), GenerationRequest(prompt: "ab", length: 4, temperature: 0))
    }

    /// ‖a − b‖ / ‖b‖ over all tensors together (a bias that batch norm cancels stays
    /// near zero, so a per-tensor ratio says nothing about it).
    func relativeDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Double {
        var d = 0.0, n = 0.0
        for (name, y) in b {
            guard let x = a[name], x.count == y.count else { return .infinity }
            for i in 0..<y.count { d += Double(x[i] - y[i]) * Double(x[i] - y[i]); n += Double(y[i]) * Double(y[i]) }
        }
        return (d / max(n, 1e-30)).squareRoot()
    }

    @Test(arguments: ["classifier", "charlm", "seq2seq"])
    func oldCheckpointsResumeOnTheOldTrajectory(task: String) throws {
        try install()
        defer { try? FileManager.default.removeItem(atPath: Self.root) }
        let config = try ConfigLoader.load(path: "\(Self.root)/\(task).yaml")
        var options = TrainOptions()
        options.quiet = true
        options.resume = true
        let kind = try TaskRegistry.kind(of: config)
        let summary = try kind.train(config, options: options)
        let straightSteps = try Checkpoint<RunState>.load(from: latest("\(task)-straight"), as: RunState.self).step
        #expect(summary.epochs == 2 && summary.steps == straightSteps)
        // `latest`: with early stopping on, the summary names the best checkpoint instead.
        let resumed = try ModelState.tensors(ofCheckpoint: latest(task).path)
        // The old code's trajectory: its weights after both epochs in one go. Identical
        // (0) with the kernels that wrote the fixture where they are deterministic; BLAS
        // kernels of other CPUs round differently, hence a bound rather than equality.
        let old = try ModelState.tensors(ofCheckpoint: latest("\(task)-straight").path)
        #expect(resumed.keys.sorted() == old.keys.sorted())
        let relative = relativeDifference(resumed, old)
        #expect(relative < 1e-5, "\(task): \(relative) relative to the old code's weights")
    }
}
