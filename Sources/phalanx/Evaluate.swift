import ArgumentParser
import Foundation
import PhalanxTraining

/// `phalanx evaluate`: accuracy of a saved checkpoint on a split.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint on the test (or validation, or training) split.",
        discussion: "Example: phalanx evaluate --checkpoint runs/fashion-lenet/checkpoints/latest")

    @Option(name: .shortAndLong, help: "A checkpoint directory (step-…, latest or best).")
    var checkpoint: String

    @Option(help: "test, validation or train.")
    var split = "test"

    @Option(help: "Evaluation batch size.")
    var batchSize = 500

    @Flag(help: "Print one JSON object instead of a line of text.")
    var json = false

    func validate() throws {
        guard ["test", "validation", "train"].contains(split) else {
            throw ValidationError("--split must be test, validation or train, got '\(split)'")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        try reportingErrors {
            let url = URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath()
            switch try CheckpointKind.of(url) {
            case .languageModel:
                let r = try LanguageModel.evaluate(checkpoint: url)
                emit(["checkpoint": url.path, "held_out_bits_per_character": r.bitsPerCharacter,
                      "characters": r.characters, "step": r.step],
                     String(format: "%@ held-out text: %.4f bits per character  (%d characters, step %d)",
                            url.path, r.bitsPerCharacter, r.characters, r.step))
            case .encoderDecoder:
                let r = try Seq2SeqTrainer.evaluate(checkpoint: url)
                emit(["checkpoint": url.path, "test_exact_match": r.exactMatch, "pairs": r.pairs, "step": r.step],
                     String(format: "%@ test: exact match %.4f  (%d pairs, greedy decoding, step %d)",
                            url.path, r.exactMatch, r.pairs, r.step))
            case .classifier:
                let result = try CheckpointEvaluation.run(checkpoint: url, split: split, batchSize: batchSize)
                emit(["checkpoint": url.path, "split": split, "accuracy": result.accuracy, "loss": result.loss,
                      "samples": result.count, "step": result.step],
                     String(format: "%@ %@: accuracy %.4f  loss %.4f  (%d samples, step %d)",
                            url.path, split, result.accuracy, result.loss, result.count, result.step))
            }
        }
    }
}

extension Evaluate {
    private func emit(_ object: [String: Any], _ line: String) {
        if json, let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(line)
        }
    }
}

/// `phalanx inspect`: what a checkpoint holds.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the tensors, shapes, config and metrics a checkpoint holds.",
        discussion: "Example: phalanx inspect runs/fashion-lenet/checkpoints/latest")

    @Argument(help: "A checkpoint directory, its latest/best link, or a .safetensors file.")
    var path: String

    func run() throws {
        try reportingErrors {
            print(try CheckpointSummary.inspect(URL(fileURLWithPath: path)))
        }
    }
}
