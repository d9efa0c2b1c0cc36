// Encoder–decoder data and training: number words with known answers, held-out test
// sources, a tiny reversal task learnt end to end with and without attention, exact
// resume, and the checkpoint answering through `generate`.
import Foundation
import PhalanxCore
import PhalanxData
import Testing
@testable import PhalanxTraining

@Suite struct SequencePairsTests {
    @Test func numberWords() {
        let cases: [(String, String)] = [
            ("0", "zero"), ("7", "seven"), ("12", "twelve"), ("40", "forty"), ("100", "one hundred"),
            ("40512", "forty thousand five hundred twelve"), ("1000000", "one million"),
            ("900000019", "nine hundred million nineteen"), ("777777777",
             "seven hundred seventy seven million seven hundred seventy seven thousand seven hundred seventy seven"),
            ("123456789012", "one hundred twenty three billion four hundred fifty six million seven hundred eighty nine thousand twelve"),
        ]
        for (digits, words) in cases {
            #expect(SequencePairs.words(digits).joined(separator: " ") == words, "\(digits)")
        }
    }

    @Test func generatedPairsAreSeededAndHoldOutTheTestSources() {
        let a = SequencePairs.generate(task: .numberWords, minLength: 1, maxLength: 6, train: 3000, validation: 200,
                                       test: 300, seed: 5)
        let b = SequencePairs.generate(task: .numberWords, minLength: 1, maxLength: 6, train: 3000, validation: 200,
                                       test: 300, seed: 5)
        #expect(a.train == b.train && a.test == b.test)
        #expect(a.maxTargetLength == 9)  // seven hundred seventy seven thousand seven hundred seventy seven
        let held = Set(a.test.map(\.source) + a.validation.map(\.source)).filter { $0.count >= 4 }
        #expect(!held.isEmpty)
        #expect(a.train.allSatisfy { !held.contains($0.source) })
        for p in a.train.prefix(200) {
            #expect((1...6).contains(p.source.count))
            let digits = p.source.map { String($0 - 1) }.joined()
            #expect(SequencePairs.decodeTarget(p.target, task: .numberWords, vocabulary: a.targetVocabulary)
                    == SequencePairs.words(digits).joined(separator: " "))
        }
        let r = SequencePairs.generate(task: .reverse, minLength: 2, maxLength: 5, train: 10, validation: 1, test: 1, seed: 1)
        for p in r.train {
            #expect(SequencePairs.decodeTarget(p.target, task: .reverse, vocabulary: r.targetVocabulary)
                    == String(p.source.map { String($0 - 1) }.joined().reversed()))
        }
    }
}

@Suite(.serialized) struct Seq2SeqTrainingTests {
    private func yaml(_ dir: String, name: String, attention: Bool, epochs: Int) -> String {
        """
        name: \(name)
        seed: 4
        data:
          dataset: seq2seq
          task: reverse
          min_length: 1
          max_length: 4
          train_pairs: 1500
          validation: 100
          test_pairs: 200
        model:
          encoder_decoder: {embedding: 8, hidden: 24, layers: 1, attention: \(attention)}
        train:
          epochs: \(epochs)
          batch_size: 25
          optimizer: {kind: adam, lr: 0.02}
          clip_norm: 5
        checkpoint:
          directory: \(dir)/runs
        """
    }

    @Test(arguments: [false, true])
    func learnsToReverseAndResumesExactly(attention: Bool) throws {
        let dir = NSTemporaryDirectory() + "phalanx-s2s-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var quiet = TrainOptions()
        quiet.quiet = true
        let config = yaml(dir, name: "rev", attention: attention, epochs: 6)
        let summary = try Seq2SeqTrainer(try ConfigLoader.load(yaml: config), options: quiet).run()
        #expect(summary.testExactMatch > 0.8, "exact match \(summary.testExactMatch)")
        let ckpt = URL(fileURLWithPath: summary.checkpoint)
        #expect(try CheckpointKind.of(ckpt) == .encoderDecoder)
        let evaluated = try Seq2SeqTrainer.evaluate(checkpoint: ckpt)
        #expect(evaluated.exactMatch == summary.testExactMatch && evaluated.pairs == 200)
        let answer = try Seq2SeqTrainer.translate(checkpoint: ckpt, source: "3071")
        #expect(answer.count <= 5)
        #expect(throws: ValidationFailure.self) { try Seq2SeqTrainer.translate(checkpoint: ckpt, source: "12a") }

        let straight = try ModelState.tensors(ofCheckpoint: summary.checkpoint)
        let other = config.replacingOccurrences(of: "name: rev", with: "name: rev-resumed")
        var first = quiet
        first.stopAfterEpochs = 2
        _ = try Seq2SeqTrainer(try ConfigLoader.load(yaml: other), options: first).run()
        var second = quiet
        second.resume = true
        let resumed = try Seq2SeqTrainer(try ConfigLoader.load(yaml: other), options: second).run()
        #expect(resumed.steps == summary.steps)
        #expect(try ModelState.tensors(ofCheckpoint: resumed.checkpoint) == straight)
    }

    @Test func configErrorsNameTheKey() throws {
        var quiet = TrainOptions()
        quiet.quiet = true
        let base = yaml("/tmp/unused", name: "bad", attention: false, epochs: 1)
        for (from, to, key) in [("task: reverse", "task: sorting", "data.task"),
                                ("max_length: 4", "max_length: 99", "data.max_length"),
                                ("validation: 100", "validation: 0", "data.validation")] {
            let loaded = try ConfigLoader.load(yaml: base.replacingOccurrences(of: from, with: to))
            #expect { try Seq2SeqTrainer(loaded, options: quiet).run() } throws: { error in
                "\(error)".contains(key)
            }
        }
        #expect { try ConfigLoader.load(yaml: base.replacingOccurrences(of: "attention: false", with: "attention: false, heads: 2")) }
            throws: { "\($0)".contains("model.encoder_decoder.heads") }
    }
}
