import ArgumentParser
import Foundation
import PhalanxTraining

/// `phalanx generate`: text from a character language model's checkpoint.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write text with a character language model, or answer a source with an encoder–decoder.",
        discussion: """
        Examples:
          phalanx generate --checkpoint runs/fortunes-charlm/checkpoints/latest --prompt 'The ' --length 300 --temperature 0.8
          phalanx generate --checkpoint runs/numbers-attention/checkpoints/latest --prompt 40512
        A language model draws each character from softmax(logits / temperature) (at
        temperature 0 the most likely one), restricted to the --top-k most likely when given,
        until --length characters or --stop. An encoder–decoder (data.dataset: seq2seq)
        decodes greedily the answer to the source given as --prompt.
        """)

    @Option(help: "A checkpoint directory of a language model or an encoder–decoder.")
    var checkpoint: String

    @Option(help: "Text the model reads before it writes.")
    var prompt = ""

    @Option(help: "Characters to write.")
    var length = 200

    @Option(help: "Sampling temperature: below 1 sharper, above 1 more random, 0 the most likely character.")
    var temperature: Float = 1

    @Option(help: "Sample only among the k most likely characters.")
    var topK: Int?

    @Option(help: "Stop after writing this character (for example '%' ends a fortune).")
    var stop: String?

    @Option(help: "Seed of the sampling.")
    var seed: UInt64 = 1

    func validate() throws {
        if length < 0 { throw ValidationError("--length must not be negative") }
        if !(temperature >= 0) { throw ValidationError("--temperature must not be negative") }
        if let k = topK, k < 1 { throw ValidationError("--top-k must be at least 1") }
        if let s = stop, s.count != 1 { throw ValidationError("--stop takes one character") }
    }

    func run() throws {
        try reportingErrors {
            let url = URL(fileURLWithPath: checkpoint)
            print(try TaskRegistry.kind(ofCheckpoint: url).generate(
                checkpoint: url, GenerationRequest(prompt: prompt, length: length, temperature: temperature, topK: topK,
                                                   seed: seed, stop: stop?.first)))
        }
    }
}
