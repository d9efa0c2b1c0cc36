import ArgumentParser
import Foundation
import PhalanxTraining

/// `phalanx generate`: text from a character language model's checkpoint.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write text with a character language model, answer a source with an encoder–decoder, or draw images with a GAN.",
        discussion: """
        Examples:
          phalanx generate --checkpoint runs/fortunes-charlm/checkpoints/latest --prompt 'The ' --length 300 --temperature 0.8
          phalanx generate --checkpoint runs/numbers-attention/checkpoints/latest --prompt 40512
          phalanx generate --checkpoint runs/fashion-dcgan/checkpoints/latest --count 64 --output grid.png
        A language model draws each character from softmax(logits / temperature) (at
        temperature 0 the most likely one), restricted to the --top-k most likely when given,
        until --length characters or --stop. An encoder–decoder (data.dataset: seq2seq)
        decodes greedily the answer to the source given as --prompt. A GAN's generator turns
        --count latent vectors drawn from --seed (0: the ones its sample grids show each epoch)
        into images: a PNG grid at --output, and with --arrays PREFIX the latents and images as
        PREFIX-latents.npy and PREFIX-images.npy (numpy.load reads them).
        """)

    @Option(help: "A checkpoint directory of a language model, an encoder–decoder or a GAN.")
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

    @Option(help: "GAN: images to generate.")
    var count = 64

    @Option(help: "GAN: the PNG grid to write.")
    var output: String?

    @Option(help: "GAN: also write PREFIX-latents.npy and PREFIX-images.npy.")
    var arrays: String?

    func validate() throws {
        if length < 0 { throw ValidationError("--length must not be negative") }
        if !(temperature >= 0) { throw ValidationError("--temperature must not be negative") }
        if let k = topK, k < 1 { throw ValidationError("--top-k must be at least 1") }
        if let s = stop, s.count != 1 { throw ValidationError("--stop takes one character") }
        if count < 1 || count > 4096 { throw ValidationError("--count must lie in 1…4096") }
    }

    func run() throws {
        try reportingErrors {
            let url = URL(fileURLWithPath: checkpoint)
            print(try TaskRegistry.kind(ofCheckpoint: url).generate(
                checkpoint: url, GenerationRequest(prompt: prompt, length: length, temperature: temperature, topK: topK,
                                                   seed: seed, stop: stop?.first, count: count, output: output,
                                                   arrays: arrays)))
        }
    }
}
