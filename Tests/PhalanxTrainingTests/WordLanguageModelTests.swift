// Word language models: a tiny text learnt by the language-model task with perplexity
// reported, generation and embedding neighbours from its checkpoint, cosine neighbours
// on a hand-made embedding, and the named errors of data.tokens / data.vocabulary.
import Foundation
import PhalanxCore
import PhalanxData
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct WordLanguageModelTests {
    static func config(_ dir: String, data: String = "tokens: words, vocabulary: 20", monitor: String? = "validation_perplexity",
                       epochs: Int = 8) -> String {
        """
        name: tiny-words
        seed: 3
        data: {dataset: text, text: [\(dir)/text], validation: 60, sequence_length: 6, \(data)}
        model:
          input: [6]
          layers:
            - {kind: embedding, name: embed, out: 8}
            - {kind: lstm, name: lstm, out: 16, return_sequences: true}
            - {kind: linear, name: head}
        train: {epochs: \(epochs), batch_size: 4, optimizer: {kind: adam, lr: 0.03}, clip_norm: 5}
        checkpoint: {directory: \(dir)/runs\(monitor.map { ", monitor: \($0)" } ?? "")}
        """
    }

    static func tinyText() throws -> String {
        let dir = NSTemporaryDirectory() + "phalanx-wordlm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try String(repeating: "the cat sat on the mat.\na dog ran to the park!\n", count: 60)
            .write(toFile: dir + "/text", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func learnsGeneratesAndListsNeighbours() throws {
        let dir = try Self.tinyText()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var quiet = TrainOptions()
        quiet.quiet = true
        let s = try LanguageModelTask.kind.train(try ConfigLoader.load(yaml: Self.config(dir)), options: quiet)
        let ppl = try #require(s.metrics["validation_perplexity"])
        // 14 tokens (12 words, <unk>, <eos>); the two lines repeat, so most words are certain once learnt.
        #expect(ppl < 2.5, "held-out perplexity \(ppl)")
        #expect(s.metrics["validation_bits_per_char"] == nil)
        let ckpt = URL(fileURLWithPath: s.checkpoint)
        let r = try LanguageModel.evaluate(checkpoint: ckpt)
        #expect(r.tokens == .words && abs(exp(r.bitsPerCharacter * log(2)) - ppl) < 1e-3 * ppl)
        let text = try LanguageModel.generate(checkpoint: ckpt, prompt: "The cat", length: 4, temperature: 0, topK: nil, seed: 1)
        #expect(text == "the cat sat on the mat", "generated \(text)")
        let lines = try LanguageModel.neighbours(checkpoint: ckpt, words: ["cat", "zebra"], count: 3)
        #expect(lines.count == 2 && lines[0].hasPrefix("cat: ") && lines[0].split(separator: ",").count == 3)
        #expect(lines[1] == "zebra: not in the vocabulary (14 tokens)")
        let baseline = try NGramBaseline.evaluate(try ConfigLoader.load(yaml: Self.config(dir)), orders: [3], smoothings: ["kneser-ney"], k: 0.01)
        #expect(baseline[0].heldOutPerplexity < 2.5 && baseline[0].vocabulary == 14)
    }

    @Test func neighboursOnAHandMadeEmbedding() {
        // Rows: 0 → (1, 0), 1 → (2, 0.1), 2 → (0, 1), 3 → (-1, 0), 4 → (0, 0).
        let e = Tensor(shape: [5, 2], values: [1, 0, 2, 0.1, 0, 1, -1, 0, 0, 0])
        let near = EmbeddingNeighbours.nearest(e, row: 0, count: 4)
        #expect(near.map(\.row) == [1, 2, 4, 3])
        #expect(abs(near[0].similarity - 2 / (4.01 as Double).squareRoot()) < 1e-6)
        #expect(near[1].similarity == 0 && near[2].similarity == 0 && abs(near[3].similarity + 1) < 1e-12)
    }

    @Test func namedConfigErrors() throws {
        let dir = try Self.tinyText()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func failure(_ yaml: String) throws -> ConfigError? {
            do { _ = try LanguageModelTask.kind.train(try ConfigLoader.load(yaml: yaml, file: "w.yaml"), options: TrainOptions()) }
            catch let e as ConfigError { return e }
            return nil
        }
        let badTokens = try #require(try failure(Self.config(dir, data: "tokens: bytes")))
        #expect(badTokens.key == "data.tokens" && badTokens.line == 3 && badTokens.message.contains("characters, words"))
        let zero = try #require(try failure(Self.config(dir, data: "tokens: words, vocabulary: 0")))
        #expect(zero.key == "data.vocabulary" && zero.line == 3)
        let chars = try #require(try failure(Self.config(dir, data: "vocabulary: 100", monitor: nil)))
        #expect(chars.key == "data.vocabulary" && chars.message.contains("tokens: words"))
        let monitor = try #require(try failure(Self.config(dir, monitor: nil)))
        #expect(monitor.key == "checkpoint.monitor" && monitor.message.contains("validation_perplexity"))
    }
}
