// The autoencoder task: it learns to reproduce its input through the code layer,
// resumes bit for bit, draws its denoising noise per sample and epoch, its sparsity
// penalty has the gradient finite differences give, and its config errors name the key.
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxNN
import PhalanxTestSupport
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct AutoencoderTests {
    /// The tiny 8×8 band images, an autoencoder 64 → 16 → 6 (code) → 16 → 64.
    func config(_ data: TinyData, name: String = "ae", extra: String = "") -> String {
        data.config(name: name).replacingOccurrences(of: """
            layers:
                - {kind: conv2d, name: conv1, out: 4, kernel: 3, padding: 1}
                - {kind: batchnorm, name: bn1}
                - {kind: relu}
                - {kind: maxpool, kernel: 2}
                - {kind: flatten}
                - {kind: dropout, p: 0.1}
                - {kind: linear, name: fc, out: 3}
            """, with: """
            layers:
                - {kind: flatten}
                - {kind: linear, name: enc, out: 16}
                - {kind: relu}
                - {kind: linear, name: bottleneck, out: 6}
                - {kind: sigmoid, name: code}
                - {kind: linear, name: dec, out: 16}
                - {kind: relu}
                - {kind: linear, name: out, out: 64}
                - {kind: reshape, shape: [1, 8, 8]}
            """)
            .replacingOccurrences(of: "optimizer: {kind: sgd, lr: 0.1, momentum: 0.9}", with: "optimizer: {kind: adam, lr: 0.01}")
            .replacingOccurrences(of: "name: \(name)\n", with: "name: \(name)\ntask: autoencoder\n")
            + "\nautoencoder:\n  code: code\n" + extra
    }

    @Test func learnsToReconstructAndResumesBitForBit() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: config(data), overrides: ["train.epochs=6"])
        #expect(try TaskRegistry.kind(of: loaded).name == "autoencoder")
        let summary = try TaskRegistry.kind(of: loaded).train(loaded, options: quiet())
        // The images are three bands plus noise: predicting the mean image leaves their spread.
        let task = try AutoencoderTask(TaskContext(loaded: loaded, communicator: LocalCommunicator(), options: quiet()), saved: nil)
        let test = task.data.test.images.copy(), m = 64, n = task.data.test.count
        try #require(task.data.normalization).apply(to: test)
        var mean = [Double](repeating: 0, count: m), spread = 0.0
        for i in 0..<n { for e in 0..<m { mean[e] += Double(test[i * m + e]) / Double(n) } }
        for i in 0..<n { for e in 0..<m { spread += pow(Double(test[i * m + e]) - mean[e], 2) / Double(n * m) } }
        let mse = try #require(summary.metrics["test_mse"])
        // A sample grid per epoch: originals above reconstructions.
        let grid = try #require(FileManager.default.contents(atPath: "\(data.directory)/runs/ae/samples/epoch-006.png"))
        #expect(Array(grid.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
        #expect(mse < 0.6 * spread, "test mse \(mse) against \(spread) for the mean image")
        // evaluate gives what training reported.
        let evaluated = try AutoencoderTask.kind.evaluate(checkpoint: URL(fileURLWithPath: summary.checkpoint))
        #expect(abs(evaluated.values["mse"]! - mse) < 1e-9)
        // Resume: 6 epochs straight equal 3 + 3.
        let split = try ConfigLoader.load(yaml: config(data, name: "ae-split"), overrides: ["train.epochs=6"])
        _ = try AutoencoderTask.kind.train(split, options: quiet(stopAfter: 3))
        _ = try AutoencoderTask.kind.train(split, options: quiet(resume: true))
        #expect(try ModelState.tensors(ofCheckpoint: "\(data.directory)/runs/ae-split/checkpoints/latest")
                == (try ModelState.tensors(ofCheckpoint: "\(data.directory)/runs/ae/checkpoints/latest")))
    }

    @Test func denoisingNoiseIsDrawnPerSampleAndEpoch() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: config(data, extra: "  noise: {kind: mask, rate: 0.25}\n"))
        let task = try AutoencoderTask(TaskContext(loaded: loaded, communicator: LocalCommunicator(), options: quiet()), saved: nil)
        let images = Tensor(shape: [4, 1, 8, 8], repeating: 1)
        let a = task.corrupt(images, indices: [3, 9, 10, 11], epoch: 2, into: Tensor(shape: [4, 1, 8, 8])).scalars
        let b = task.corrupt(images, indices: [3, 9, 10, 11], epoch: 2, into: Tensor(shape: [4, 1, 8, 8])).scalars
        let c = task.corrupt(images, indices: [3, 9, 10, 11], epoch: 3, into: Tensor(shape: [4, 1, 8, 8])).scalars
        // Sample 9 alone is masked as it is beside the others: the draw belongs to the sample.
        let alone = task.corrupt(Tensor(shape: [1, 1, 8, 8], repeating: 1), indices: [9], epoch: 2,
                                 into: Tensor(shape: [1, 1, 8, 8])).scalars
        #expect(a == b && a != c && Array(a[64..<128]) == alone)
        let masked = Double(a.filter { $0 == 0 }.count) / Double(a.count)
        #expect(abs(masked - 0.25) < 0.1, "masked \(masked)")
        let summary = try AutoencoderTask.kind.train(loaded, options: quiet())
        #expect(summary.metrics["test_denoised_mse"] != nil)
    }

    @Test func theSparsityPenaltyHasItsFiniteDifferenceGradient() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: config(data, extra: "  sparsity: {rho: 0.1, beta: 2}\n"))
        let task = try AutoencoderTask(TaskContext(loaded: loaded, communicator: LocalCommunicator(), options: quiet()), saved: nil)
        var rng = RNG(seed: 5)
        let code = Tensor(shape: [5, 6])
        for i in 0..<code.count { code[i] = rng.uniform(0.05, 0.95) }
        let (_, analytic) = try task.sparsity(code, globalCount: 5, rho: 0.1, beta: 2)
        let g = analytic.copy()
        for i in 0..<code.count {
            let keep = code[i], h: Float = 1e-3
            code[i] = keep + h
            let up = try task.sparsity(code, globalCount: 5, rho: 0.1, beta: 2).0
            code[i] = keep - h
            let down = try task.sparsity(code, globalCount: 5, rho: 0.1, beta: 2).0
            code[i] = keep
            let numeric = (up - down) / Double(2 * h)
            #expect(abs(numeric - Double(g[i])) < 2e-3 * max(1, abs(numeric)), "[\(i)] \(numeric) vs \(g[i])")
        }
        // At ρ̂ = ρ the penalty and its gradient vanish.
        let atTarget = Tensor(shape: [5, 6], repeating: 0.1)
        let (p, zero) = try task.sparsity(atTarget, globalCount: 5, rho: 0.1, beta: 2)
        #expect(abs(p) < 1e-6 && zero.scalars.allSatisfy { abs($0) < 1e-5 })
    }

    @Test func theContractivePenaltyShrinksTheJacobian() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let plain = try AutoencoderTask.kind.train(try ConfigLoader.load(yaml: config(data, name: "plain"),
                                                                        overrides: ["train.epochs=4"]), options: quiet())
        let contractive = try AutoencoderTask.kind.train(
            try ConfigLoader.load(yaml: config(data, name: "contractive"),
                                  overrides: ["train.epochs=4", "autoencoder.contractive={lambda: 1}"]), options: quiet())
        let (a, b) = (plain.metrics["test_jacobian_sq"]!, contractive.metrics["test_jacobian_sq"]!)
        #expect(b < a / 2, "mean ‖J‖² \(b) with the penalty against \(a) without")
    }

    @Test func aSecondStageLearnsTheFrozenFirstStagesCode() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let first = try AutoencoderTask.kind.train(try ConfigLoader.load(yaml: config(data, name: "stage1"),
                                                                        overrides: ["train.epochs=3"]), options: quiet())
        // Stage 2: enc and its relu frozen from stage 1; a new code reconstructs relu's 16 outputs.
        let second = config(data, name: "stage2")
            .replacingOccurrences(of: "- {kind: linear, name: enc, out: 16}", with: "- {kind: linear, name: enc, out: 16, frozen: true}")
            .replacingOccurrences(of: "- {kind: relu}\n    - {kind: linear, name: bottleneck",
                                  with: "- {kind: relu, name: hidden}\n    - {kind: linear, name: bottleneck")
            .replacingOccurrences(of: "- {kind: linear, name: out, out: 64}\n    - {kind: reshape, shape: [1, 8, 8]}",
                                  with: "- {kind: linear, name: recon, out: 16}")
            + "  target: hidden\ninit_from: {checkpoint: \(first.checkpoint), strict: false}\n"
        let loaded = try ConfigLoader.load(yaml: second, overrides: ["train.epochs=3"])
        let summary = try AutoencoderTask.kind.train(loaded, options: quiet())
        let before = try ModelState.tensors(ofCheckpoint: first.checkpoint), after = try ModelState.tensors(ofCheckpoint: summary.checkpoint)
        #expect(after["enc.weight"]! == before["enc.weight"]!, "the frozen layer keeps its weights")
        #expect(after["recon.weight"]!.count == 16 * 16)
        let history = try String(contentsOfFile: summary.checkpoint + "/../../metrics.jsonl", encoding: .utf8)
        let firstEpoch = try #require(try JSONSerialization.jsonObject(with: Data(history.split(separator: "\n")[0].utf8))
            as? [String: Any])["loss"] as? Double
        #expect(summary.metrics["test_mse"]! < 0.9 * (firstEpoch ?? 0), "it learns to reconstruct the hidden layer's output")
        // A target that is still trained would be learnt away: refused.
        let unfrozen = try ConfigLoader.load(yaml: second.replacingOccurrences(of: ", frozen: true", with: ""))
        #expect { try AutoencoderTask.kind.train(unfrozen, options: quiet()) } throws: {
            ($0 as? ConfigError)?.key == "autoencoder.target" && "\($0)".contains("frozen")
        }
    }

    @Test func badSettingsNameTheirKey() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let cases: [(String, String)] = [
            ("autoencoder.code=nothing", "autoencoder.code"),
            ("autoencoder.loss=l1", "autoencoder.loss"),
            ("autoencoder.loss=bce", "data.normalize"),
            ("autoencoder.sparsity={rho: 1.5}", "autoencoder.sparsity.rho"),
            ("autoencoder.noise={kind: salt}", "autoencoder.noise.kind"),
            ("autoencoder.noise={kind: mask, rate: 1}", "autoencoder.noise.rate"),
            ("autoencoder.code=enc", "autoencoder.code"),  // present, but sparsity needs a sigmoid: below
            ("model.layers.7.out=60", "model.layers.8"),
        ]
        for (override, key) in cases where key != "autoencoder.code" || override.hasSuffix("nothing") {
            let loaded = try ConfigLoader.load(yaml: config(data), overrides: [override])
            #expect { try AutoencoderTask.kind.train(loaded, options: quiet()) } throws: { error in
                (error as? ConfigError)?.key == key || "\(error)".contains(key)
            }
        }
        let notSigmoid = try ConfigLoader.load(yaml: config(data), overrides: ["autoencoder.code=enc", "autoencoder.sparsity={rho: 0.1}"])
        #expect { try AutoencoderTask.kind.train(notSigmoid, options: quiet()) } throws: { ($0 as? ConfigError)?.key == "autoencoder.sparsity" }
        let notOverLinear = try ConfigLoader.load(yaml: config(data), overrides: ["autoencoder.code=enc", "autoencoder.contractive={lambda: 0.1}"])
        #expect { try AutoencoderTask.kind.train(notOverLinear, options: quiet()) } throws: {
            ($0 as? ConfigError)?.key == "autoencoder.contractive" && "\($0)".contains("sigmoid")
        }
        let negative = try ConfigLoader.load(yaml: config(data), overrides: ["autoencoder.contractive={lambda: -1}"])
        #expect { try AutoencoderTask.kind.train(negative, options: quiet()) } throws: {
            ($0 as? ConfigError)?.key == "autoencoder.contractive.lambda"
        }
        // The section belongs to its task.
        let classifier = try ConfigLoader.load(yaml: data.config() + "\nautoencoder: {code: fc}\n")
        #expect { try ClassificationTask.kind.train(classifier, options: quiet()) } throws: { ($0 as? ConfigError)?.key == "autoencoder" }
    }
}
