import ArgumentParser
import Foundation
import PhalanxTraining

/// `phalanx generate`: text from a character language model's checkpoint.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write text with a trained character language model, one character at a time.",
        discussion: """
        Example:
          phalanx generate --checkpoint runs/fortunes-charlm/checkpoints/latest --prompt 'The ' --length 300 --temperature 0.8
        Each character is drawn from the model's distribution softmax(logits / temperature),
        restricted to the --top-k most likely when given, until --length characters or --stop.
        """)

    @Option(help: "A checkpoint directory of a language model (data.dataset: text).")
    var checkpoint: String

    @Option(help: "Text the model reads before it writes.")
    var prompt = ""

    @Option(help: "Characters to write.")
    var length = 200

    @Option(help: "Sampling temperature: below 1 sharper, above 1 more random.")
    var temperature: Float = 1

    @Option(help: "Sample only among the k most likely characters.")
    var topK: Int?

    @Option(help: "Stop after writing this character (for example '%' ends a fortune).")
    var stop: String?

    @Option(help: "Seed of the sampling.")
    var seed: UInt64 = 1

    func validate() throws {
        if length < 0 { throw ValidationError("--length must not be negative") }
        if temperature <= 0 { throw ValidationError("--temperature must be positive") }
        if let k = topK, k < 1 { throw ValidationError("--top-k must be at least 1") }
        if let s = stop, s.count != 1 { throw ValidationError("--stop takes one character") }
    }

    func run() throws {
        try reportingErrors {
            let text = try LanguageModel.generate(checkpoint: URL(fileURLWithPath: checkpoint), prompt: prompt,
                                                  length: length, temperature: temperature, topK: topK, seed: seed,
                                                  stop: stop?.first)
            print(text)
        }
    }
}
