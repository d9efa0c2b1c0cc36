// A stop request (SIGTERM, SIGINT, SIGUSR1) ends a run after the current step with a
// checkpoint — inside the epoch where the task resumes there exactly, at the end of the
// epoch where it carries state from batch to batch — and --resume continues to the very
// weights of an uninterrupted run. (Real signals are sent to real processes by
// launch/test: the handler's flag is process-wide, and tests here run side by side.)
import Foundation
import Glibc
import PhalanxCore
import PhalanxTestSupport
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct StopSignalTests {
    func options(stopAt: Int? = nil, resume: Bool = false) -> TrainOptions {
        var o = TrainOptions()
        o.quiet = true
        o.resume = resume
        if let stopAt { o.stopRequest = { step in step == stopAt ? SIGTERM : nil } }
        return o
    }

    /// Trains `yaml` straight, then as run "stopped": stopped after step `stopAt`, resumed;
    /// returns both final weights and what the stop threw.
    func stopAndResume(_ yaml: String, kind: TaskKind, stopAt: Int, dir: String)
        throws -> (straight: [String: [Float]], resumed: [String: [Float]], stop: TrainingError?) {
        let straight = try kind.train(try ConfigLoader.load(yaml: yaml, overrides: ["name=straight"]), options: options())
        let config = try ConfigLoader.load(yaml: yaml, overrides: ["name=stopped"])
        var stop: TrainingError?
        do {
            _ = try kind.train(config, options: options(stopAt: stopAt))
        } catch let e as TrainingError {
            stop = e
        }
        let resumed = try kind.train(config, options: options(resume: true))
        #expect(resumed.steps == straight.steps)
        return (try ModelState.tensors(ofCheckpoint: "\(dir)/runs/straight/checkpoints/latest"),
                try ModelState.tensors(ofCheckpoint: "\(dir)/runs/stopped/checkpoints/latest"), stop)
    }

    @Test func aClassifierStopsInsideTheEpochAndResumesThere() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        // 210 training samples in batches of 30: 7 steps an epoch; stop after step 10 (epoch 2, batch 3).
        let r = try stopAndResume(data.config(), kind: ClassificationTask.kind, stopAt: 10, dir: data.directory)
        guard case let .interrupted(signal, step, checkpoint)? = r.stop else {
            Issue.record("no interruption: \(String(describing: r.stop))")
            return
        }
        #expect(signal == SIGTERM && step == 10 && r.stop?.exitCode == 143)
        #expect(checkpoint.hasSuffix("step-000010"))
        let saved = try Checkpoint<RunState>.load(from: URL(fileURLWithPath: checkpoint), as: RunState.self)
        #expect(saved.trainer.epoch == 1 && saved.trainer.batch == 3)
        #expect(r.resumed == r.straight)
    }

    @Test func aLanguageModelFinishesTheEpochFirst() throws {
        let text = TinyText()
        defer { text.cleanUp() }
        let dir = text.directory
        let yaml = text.config(epochs: 3, dropout: 0.2)
        let r = try stopAndResume(yaml, kind: LanguageModelTask.kind, stopAt: 2, dir: dir)
        guard case let .interrupted(_, step, checkpoint)? = r.stop else {
            Issue.record("no interruption: \(String(describing: r.stop))")
            return
        }
        let saved = try Checkpoint<RunState>.load(from: URL(fileURLWithPath: checkpoint), as: RunState.self)
        #expect(saved.trainer.epoch == 1 && saved.trainer.batch == 0 && step == saved.step && step > 2)
        #expect(r.resumed == r.straight)
    }

    @Test func anEncoderDecoderStopsInsideTheEpoch() throws {
        let dir = NSTemporaryDirectory() + "phalanx-stop-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = """
        seed: 4
        data: {dataset: seq2seq, task: reverse, min_length: 1, max_length: 3, train_pairs: 100, validation: 20, test_pairs: 20}
        model: {encoder_decoder: {embedding: 4, hidden: 6, layers: 1, attention: true}}
        train: {epochs: 2, batch_size: 25, optimizer: {kind: adam, lr: 0.02}}
        checkpoint: {directory: \(dir)/runs}
        """
        let r = try stopAndResume(yaml, kind: Seq2SeqTask.kind, stopAt: 6, dir: dir)
        #expect(r.stop?.exitCode == 143)
        #expect(r.resumed == r.straight)
    }
}
