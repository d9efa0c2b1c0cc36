// The word tokenizer, the top-K vocabulary with <unk> and <eos>, and the held-out cut.
import Foundation
import Testing
@testable import PhalanxData

struct WordCorpusTests {
    @Test func tokenizesWordsAndPunctuation() {
        #expect(WordTokenizer.tokenize("Don't PANIC, well-known (42)!\nOK -- bye.")
            == ["don't", "panic", ",", "well-known", "(", "42", ")", "!", "<eos>", "ok", "-", "-", "bye", "."])
        #expect(WordTokenizer.tokenize("end-\n") == ["end", "-", "<eos>"])
        #expect(WordTokenizer.detokenize(["the", "cat", "(", "a", "cat", ")", ",", "sat", ".", "<eos>", "ok"])
            == "the cat (a cat), sat.\nok")
        #expect(WordTokenizer.detokenize(["<eos>", "-", "-", "mark", "twain"]) == "\n-- mark twain")
    }

    @Test func vocabularyKeepsTheTopKAndMapsTheRestToUnknown() {
        let tokens = ["b", "a", "b", "c", "a", "b", "<eos>", "d"]
        let v = WordVocabulary(counting: tokens, size: 2)
        // b: 3, a: 2, then c and d (1 each) are cut.
        #expect(v.words == ["<unk>", "<eos>", "b", "a"])
        #expect(v.encode(["a", "c", "<eos>", "zebra"]) == [3, 0, 1, 0])
        #expect(v.decode([2, 0, 9]) == ["b", "<unk>", "<unk>"])
        // Ties in code-point order.
        #expect(WordVocabulary(counting: ["y", "x"], size: 1).words == ["<unk>", "<eos>", "x"])
    }

    @Test func heldOutTailStartsAtALine() throws {
        let dir = NSTemporaryDirectory() + "phalanx-words-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "the cat sat\nthe dog sat\nthe end\n".write(toFile: dir + "/t", atomically: true, encoding: .utf8)
        // 10 characters from the end falls inside "the dog sat": the cut moves to "the end".
        let c = try WordCorpus.load(paths: [dir + "/t"], heldOut: 10, vocabularySize: 3)
        #expect(c.vocabulary.words == ["<unk>", "<eos>", "sat", "the", "cat"])
        #expect(c.vocabulary.decode(c.heldOut) == ["the", "<unk>", "<eos>", "<eos>"])
        #expect(c.train.count == 8)  // the cat sat <eos> the dog sat <eos>
        #expect(throws: DataError.self) { try WordCorpus.load(paths: [dir + "/t"], heldOut: 1000, vocabularySize: 3) }
    }
}
