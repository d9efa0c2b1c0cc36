// The one loop across tasks: a task written in one file (RegressionTask, in
// Tests/Support) trains and resumes bit for bit; what only the image trainer had before
// — early stopping, every_epochs, dropout streams in checkpoints — works for the
// sequence tasks; each task refuses keys and losses that are not its own, by name.
import Foundation
import PhalanxCore
import PhalanxTestSupport
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct TrainingLoopTests {
    func temporary() throws -> String {
        let dir = NSTemporaryDirectory() + "phalanx-loop-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func regression(_ dir: String, name: String, extra: String = "") -> String {
        """
        name: \(name)
        seed: 9
        task: regression
        data: {samples: 256, features: 3, noise: 0.01, validation: 64, test_samples: 64}
        model:
          input: [3]
          layers:
            - {kind: linear, name: fit, out: 1}
        train:
          epochs: 6
          batch_size: 32
          optimizer: {kind: sgd, lr: 0.2, momentum: 0.5}
          schedule: {kind: cosine}
        checkpoint: {directory: \(dir)/runs, keep: 10}
        \(extra)
        """
    }

    @Test func aTaskInOneFileTrainsAndResumesBitForBit() throws {
        TaskRegistry.register(RegressionTask.kind)
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let straight = try ConfigLoader.load(yaml: regression(dir, name: "straight"))
        let kind = try TaskRegistry.kind(of: straight)
        #expect(kind.name == "regression")
        let done = try kind.train(straight, options: quiet())
        // y = w·x + b + 0.01 noise: a linear layer fits it to the noise floor.
        #expect(done.metrics["test_loss"]! < 1e-3, "test MSE \(done.metrics["test_loss"]!)")
        #expect(done.monitor == "validation_loss" && done.metrics["validation_loss"]! < 1e-3)
        #expect(done.steps == 6 * 8)

        let split = try ConfigLoader.load(yaml: regression(dir, name: "split"))
        _ = try kind.train(split, options: quiet(stopAfter: 2))
        let resumed = try kind.train(split, options: quiet(resume: true))
        #expect(resumed.steps == done.steps)
        #expect(try ModelState.tensors(ofCheckpoint: "\(dir)/runs/split/checkpoints/latest")
                == (try ModelState.tensors(ofCheckpoint: "\(dir)/runs/straight/checkpoints/latest")))
        // Its data section is its own: an image key there is refused, with its line.
        let bad = try ConfigLoader.load(yaml: regression(dir, name: "bad").replacingOccurrences(
            of: "data: {samples: 256,", with: "data: {normalize: none, samples: 256,"))
        #expect { try TaskRegistry.kind(of: bad) } throws: {
            let e = $0 as? ConfigError
            return e?.key == "data.normalize" && e?.line == 4 && "\($0)".contains("regression task")
        }
    }

    func lm(_ text: TinyText, name: String, epochs: Int = 4, dropout: Bool = false) -> String {
        text.config(name: name, epochs: epochs, dropout: dropout ? 0.3 : nil)
    }

    func steps(_ dir: String, _ run: String) -> [Int] {
        CheckpointStore(run: run, runs: URL(fileURLWithPath: "\(dir)/runs")).steps()
    }

    @Test func aLanguageModelWithDropoutResumesExactly() throws {
        let text = TinyText()
        defer { text.cleanUp() }
        let straight = try LanguageModelTrainer(try ConfigLoader.load(yaml: lm(text, name: "straight", dropout: true)),
                                                options: quiet()).run()
        let config = try ConfigLoader.load(yaml: lm(text, name: "split", dropout: true))
        _ = try LanguageModelTrainer(config, options: quiet(stopAfter: 2)).run()
        let resumed = try LanguageModelTrainer(config, options: quiet(resume: true)).run()
        #expect(resumed.steps == straight.steps)
        #expect(try ModelState.tensors(ofCheckpoint: resumed.checkpoint) == (try ModelState.tensors(ofCheckpoint: straight.checkpoint)))
        // The dropout stream is in the checkpoint.
        let state = try Checkpoint<RunState>.load(from: URL(fileURLWithPath: resumed.checkpoint), as: RunState.self)
        #expect(state.trainer.dropoutRNG.count == 1)
    }

    @Test func sequenceTasksStopEarlyAndCheckpointEveryNEpochs() throws {
        let text = TinyText()
        defer { text.cleanUp() }
        let dir = text.directory
        // No improvement counts after the first epoch (min_delta is huge): patience 1 stops after epoch 2.
        let early = try LanguageModelTask.kind.train(try ConfigLoader.load(yaml: lm(text, name: "lm-early", epochs: 5),
            overrides: ["train.early_stopping={patience: 1, min_delta: 100}"]), options: quiet())
        #expect(early.stoppedEarly && early.epochs == 2)
        let perEpoch = early.steps / 2
        #expect(early.checkpoint.hasSuffix(CheckpointLayout.directoryName(step: perEpoch)), "restored \(early.checkpoint)")

        // every_epochs: 2 — epochs 2 and 4, and epoch 1 where the monitored metric improved.
        _ = try LanguageModelTask.kind.train(try ConfigLoader.load(yaml: lm(text, name: "lm-every"),
            overrides: ["checkpoint.every_epochs=2", "train.early_stopping={patience: 10, min_delta: 100}"]), options: quiet())
        #expect(steps(dir, "lm-every") == [1, 2, 4].map { $0 * perEpoch })

        let s2s = """
        name: s2s-every
        seed: 4
        data: {dataset: seq2seq, task: reverse, min_length: 1, max_length: 3, train_pairs: 100, validation: 20, test_pairs: 20}
        model: {encoder_decoder: {embedding: 4, hidden: 6, layers: 1}}
        train: {epochs: 4, batch_size: 25, optimizer: {kind: adam, lr: 0.02}, early_stopping: {patience: 10, min_delta: 100}}
        checkpoint: {directory: \(dir)/runs, keep: 10, every_epochs: 2}
        """
        _ = try Seq2SeqTask.kind.train(try ConfigLoader.load(yaml: s2s), options: quiet())
        #expect(steps(dir, "s2s-every") == [4, 8, 16])
        let stopped = try Seq2SeqTask.kind.train(try ConfigLoader.load(yaml: s2s, overrides: [
            "name=s2s-early", "train.early_stopping.patience=1"]), options: quiet())
        #expect(stopped.stoppedEarly && stopped.epochs == 2)
    }

    @Test func eachTaskRefusesWhatIsNotItsOwnByName() throws {
        let text = TinyText()
        defer { text.cleanUp() }
        let dir = text.directory
        // train.loss: the sequence tasks are trained with cross-entropy only.
        for loss in ["mse", "binary_cross_entropy"] {
            let config = try ConfigLoader.load(yaml: lm(text, name: "lm-loss"), overrides: ["train.loss=\(loss)"])
            #expect { try LanguageModelTask.kind.train(config, options: quiet()) } throws: { ($0 as? ConfigError)?.key == "train.loss" }
        }
        let s2s = """
        name: s2s-loss
        data: {dataset: seq2seq, task: reverse, max_length: 3, train_pairs: 50, validation: 10, test_pairs: 10}
        model: {encoder_decoder: {embedding: 4, hidden: 6}}
        train: {loss: mse, batch_size: 10}
        checkpoint: {directory: \(dir)/runs}
        """
        #expect { try Seq2SeqTask.kind.train(try ConfigLoader.load(yaml: s2s), options: quiet()) } throws: {
            ($0 as? ConfigError)?.key == "train.loss"
        }
        // A text key in an image config, an image key in a language-model config: key and line.
        let image = """
        name: img
        data:
          dataset: fashion-mnist
          sequence_length: 16
        model: {input: [1, 28, 28], layers: [{kind: flatten}, {kind: linear, out: 10}]}
        """
        #expect { try TaskRegistry.kind(of: try ConfigLoader.load(yaml: image, file: "img.yaml")) } throws: {
            "\($0)".hasPrefix("img.yaml:4: key 'data.sequence_length': not a setting of the classification task")
        }
        #expect { try TaskRegistry.kind(of: try ConfigLoader.load(yaml: lm(text, name: "x"), overrides: ["data.crop_padding=2"])) }
            throws: { ($0 as? ConfigError)?.key == "data.crop_padding" }
        // A key no task reads is refused when the config is loaded.
        #expect { try ConfigLoader.load(yaml: image.replacingOccurrences(of: "sequence_length", with: "sequence_lenght")) }
            throws: { ($0 as? ConfigError)?.key == "data.sequence_lenght" && ($0 as? ConfigError)?.message == "unknown key" }
        // An encoder–decoder has no layer list; a task that is not registered is named.
        #expect { try TaskRegistry.kind(of: try ConfigLoader.load(yaml: s2s, overrides: ["model.input=[3]"])) }
            throws: { ($0 as? ConfigError)?.key == "model.input" }
        #expect { try TaskRegistry.kind(of: try ConfigLoader.load(yaml: image, overrides: ["task=diffusion"])) }
            throws: { ($0 as? ConfigError)?.key == "task" }
        // A monitored metric the task does not report.
        let monitored = try ConfigLoader.load(yaml: lm(text, name: "lm-monitor"), overrides: ["checkpoint.monitor=validation_accuracy"])
        #expect { try LanguageModelTask.kind.train(monitored, options: quiet()) } throws: {
            ($0 as? ConfigError)?.key == "checkpoint.monitor" && "\($0)".contains("validation_bits_per_char")
        }
    }

    @Test func theMonitoredMetricHasItsDirection() throws {
        let text = TinyText()
        defer { text.cleanUp() }
        let dir = text.directory
        // Monitoring the validation loss (lower is better) of a language model: `best`
        // names the checkpoint of the lowest held-out loss in metrics.jsonl.
        let summary = try LanguageModelTask.kind.train(try ConfigLoader.load(yaml: lm(text, name: "lm-best"),
            overrides: ["checkpoint.monitor=validation_loss"]), options: quiet())
        #expect(summary.monitor == "validation_loss")
        let records = try MetricsLog.read(URL(fileURLWithPath: "\(dir)/runs/lm-best/metrics.jsonl")).filter { $0.split == "validation" }
        let lowest = records.min { $0.loss < $1.loss }!
        #expect(CheckpointStore(run: "lm-best", runs: URL(fileURLWithPath: "\(dir)/runs")).bestStep() == lowest.step)
        #expect(records.allSatisfy { $0.values["bits_per_char"] != nil })
    }
}
