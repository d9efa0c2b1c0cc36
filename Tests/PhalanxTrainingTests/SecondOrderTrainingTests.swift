// lbfgs, cg and newton through the one loop: full-batch training converges, a run
// stopped and resumed continues bit for bit (history pairs, direction, step size in the
// checkpoint), and settings out of range or combinations that cannot work are refused by
// key and line.
import Foundation
import PhalanxCore
import PhalanxTestSupport
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct SecondOrderTrainingTests {
    func temporary() throws -> String {
        let dir = NSTemporaryDirectory() + "phalanx-second-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A small non-convex regression (5 → 8 tanh → 1) trained full-batch.
    func regression(_ dir: String, name: String, optimizer: String, epochs: Int = 6) -> String {
        """
        name: \(name)
        seed: 5
        task: regression
        data: {samples: 256, features: 5, noise: 0.01, validation: 64, test_samples: 64}
        model:
          input: [5]
          layers:
            - {kind: linear, name: hidden, out: 8}
            - {kind: tanh}
            - {kind: linear, name: out, out: 1}
        train:
          epochs: \(epochs)
          batch_size: 256
          l2: 0.0001
          optimizer: {kind: \(optimizer), max_iter: 3, tolerance_grad: 0, tolerance_change: 0}
        checkpoint: {directory: \(dir)/runs, keep: 10}
        """
    }

    @Test(arguments: ["lbfgs", "cg", "newton"])
    func fullBatchTrainingResumesBitForBit(_ optimizer: String) throws {
        TaskRegistry.register(RegressionTask.kind)
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let kind = RegressionTask.kind
        let straight = try kind.train(try ConfigLoader.load(yaml: regression(dir, name: "straight", optimizer: optimizer)),
                                      options: quiet())
        #expect(straight.metrics["test_loss"]! < 0.05, "\(optimizer): test MSE \(straight.metrics["test_loss"]!)")
        #expect(straight.metrics["optimizer_iterations"]! >= 3)
        #expect(straight.metrics["optimizer_evaluations"]! > straight.metrics["optimizer_iterations"]!)

        let split = try ConfigLoader.load(yaml: regression(dir, name: "split", optimizer: optimizer))
        _ = try kind.train(split, options: quiet(stopAfter: 2))
        let resumed = try kind.train(split, options: quiet(resume: true))
        #expect(resumed.steps == straight.steps)
        #expect(resumed.metrics["optimizer_evaluations"] == straight.metrics["optimizer_evaluations"])
        #expect(try ModelState.tensors(ofCheckpoint: "\(dir)/runs/split/checkpoints/latest")
                == (try ModelState.tensors(ofCheckpoint: "\(dir)/runs/straight/checkpoints/latest")))
    }

    @Test func lbfgsStopsWhenConverged() throws {
        TaskRegistry.register(RegressionTask.kind)
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A linear model: a convex quadratic that L-BFGS finishes long before 50 steps.
        let yaml = regression(dir, name: "linear", optimizer: "lbfgs", epochs: 50)
            .replacingOccurrences(of: "    - {kind: linear, name: hidden, out: 8}\n    - {kind: tanh}\n", with: "")
            .replacingOccurrences(of: "tolerance_grad: 0, tolerance_change: 0", with: "tolerance_grad: 1.0e-6")
        let summary = try RegressionTask.kind.train(try ConfigLoader.load(yaml: yaml), options: quiet())
        #expect(summary.steps < 50)
        #expect(summary.metrics["test_loss"]! < 1e-3)
    }

    @Test func settingsThatCannotWorkAreRefusedByKeyAndLine() throws {
        TaskRegistry.register(RegressionTask.kind)
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = regression(dir, name: "bad", optimizer: "lbfgs")
        let cases: [(String, String, String)] = [
            ("tolerance_change: 0}", "tolerance_change: 0, history_size: 0}", "train.optimizer.history_size"),
            ("max_iter: 3", "max_iter: 0", "train.optimizer.max_iter"),
            ("tolerance_change: 0}", "tolerance_change: 0, line_search: backtracking}", "train.optimizer.line_search"),
            ("kind: lbfgs", "kind: cg, line_search: none", "train.optimizer.line_search"),
            ("kind: lbfgs", "kind: newton, cg_tolerance: 2", "train.optimizer.cg_tolerance"),
            ("kind: lbfgs", "kind: newton, damping: -1", "train.optimizer.damping"),
            ("  l2: 0.0001", "  clip_norm: 1", "train.clip_norm"),
            ("  l2: 0.0001", "  l1: 0.001", "train.l1"),
            ("kind: lbfgs", "kind: bfgs", "train.optimizer.kind"),
        ]
        for (from, to, key) in cases {
            let loaded = try ConfigLoader.load(yaml: base.replacingOccurrences(of: from, with: to))
            #expect { try RegressionTask.kind.train(loaded, options: quiet()) } throws: {
                let e = $0 as? ConfigError
                return e?.key == key && e?.line != nil
            }
        }
    }

    @Test func aLanguageModelIsRefusedALineSearch() throws {
        let text = TinyText()
        defer { text.cleanUp() }
        let yaml = text.config(name: "lm-lbfgs").replacingOccurrences(of: "{kind: adam, lr: 0.03}", with: "{kind: lbfgs}")
        #expect { try LanguageModelTrainer(try ConfigLoader.load(yaml: yaml), options: quiet()).run() } throws: {
            ($0 as? ConfigError)?.key == "train.optimizer.kind" && "\($0)".contains("carries state")
        }
    }
}
