// A character language model end to end on a tiny repetitive text: it learns, writes a
// checkpoint with its vocabulary, and `generate` continues the pattern.
import Foundation
import PhalanxCore
import PhalanxData
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct LanguageModelTests {
    @Test func corpusVocabularyAndHeldOut() throws {
        let dir = NSTemporaryDirectory() + "phalanx-text-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "abcab".write(toFile: dir + "/one", atomically: true, encoding: .utf8)
        try "é!".write(toFile: dir + "/two", atomically: true, encoding: .utf8)
        try "ignored".write(toFile: dir + "/two.dat", atomically: true, encoding: .utf8)
        let c = try TextCorpus.load(paths: [dir], heldOut: 2)
        // "abcab\né!\n": the last two characters ("!\n") are held out.
        #expect(String(String.UnicodeScalarView(c.vocabulary)) == "\nabcé")
        #expect(TextCorpus.decode(c.train, vocabulary: c.vocabulary) == "abcab\né")
        #expect(c.heldOut.count == 2)
        #expect(throws: DataError.self) { try TextCorpus.load(paths: [dir + "/missing"], heldOut: 0) }
        #expect(throws: DataError.self) { try TextCorpus.load(paths: [dir + "/one"], heldOut: 10) }
    }

    @Test func learnsAPatternAndGenerates() throws {
        let dir = NSTemporaryDirectory() + "phalanx-lm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try String(repeating: "abcd", count: 300).write(toFile: dir + "/text", atomically: true, encoding: .utf8)
        let yaml = """
        name: tiny-lm
        seed: 3
        data:
          dataset: text
          text: [\(dir)/text]
          validation: 80
          sequence_length: 8
        model:
          input: [8]
          layers:
            - {kind: embedding, name: embed, out: 4}
            - {kind: lstm, name: lstm, out: 12, return_sequences: true}
            - {kind: linear, name: head}
        train:
          epochs: 6
          batch_size: 4
          optimizer: {kind: adam, lr: 0.03}
          clip_norm: 5
        checkpoint:
          directory: \(dir)/runs
        """
        var quiet = TrainOptions()
        quiet.quiet = true
        let summary = try LanguageModelTrainer(try ConfigLoader.load(yaml: yaml), options: quiet).run()
        // Five symbols ("abcd\n" — the file ends with a newline) would need 2.3 bits
        // without context; the pattern is nearly certain once learnt.
        #expect(summary.heldOutBitsPerCharacter < 0.5, "held-out \(summary.heldOutBitsPerCharacter) bits/char")
        let text = try LanguageModel.generate(checkpoint: URL(fileURLWithPath: summary.checkpoint), prompt: "ab",
                                              length: 10, temperature: 0.5, topK: 2, seed: 1)
        #expect(text == "abcdabcdabcd", "generated '\(text)'")
        let greedy = try LanguageModel.generate(checkpoint: URL(fileURLWithPath: summary.checkpoint), prompt: "ab",
                                                length: 6, temperature: 0, topK: nil, seed: 9)
        #expect(greedy == "abcdabcd", "greedy '\(greedy)'")
        // `phalanx evaluate` on the checkpoint gives the figure training reported.
        let evaluated = try LanguageModel.evaluate(checkpoint: URL(fileURLWithPath: summary.checkpoint))
        #expect(abs(evaluated.bitsPerCharacter - summary.heldOutBitsPerCharacter) < 1e-9)
        #expect(try CheckpointKind.of(URL(fileURLWithPath: summary.checkpoint)) == .languageModel)

        // Resume: 6 epochs straight equal 3, then --resume for the other 3, bit for bit.
        let straight = try ModelState.tensors(ofCheckpoint: summary.checkpoint)
        let resumedYAML = yaml.replacingOccurrences(of: "name: tiny-lm", with: "name: tiny-lm-resumed")
        var first = quiet
        first.stopAfterEpochs = 3
        _ = try LanguageModelTrainer(try ConfigLoader.load(yaml: resumedYAML), options: first).run()
        var second = quiet
        second.resume = true
        let resumed = try LanguageModelTrainer(try ConfigLoader.load(yaml: resumedYAML), options: second).run()
        #expect(resumed.steps == summary.steps)
        #expect(try ModelState.tensors(ofCheckpoint: resumed.checkpoint) == straight)
    }
}

extension ModelState {
    /// Every tensor of a checkpoint's model.safetensors as plain arrays, by name.
    static func tensors(ofCheckpoint path: String) throws -> [String: [Float]] {
        let st = try SafeTensors.read(from: URL(fileURLWithPath: path).appendingPathComponent(CheckpointLayout.model))
        var out: [String: [Float]] = [:]
        for name in st.names { let t = st[name]!; out[name] = (0..<t.count).map { t[$0] } }
        return out
    }
}
