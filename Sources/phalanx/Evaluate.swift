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

    func validate() throws {
        guard ["test", "validation", "train"].contains(split) else {
            throw ValidationError("--split must be test, validation or train, got '\(split)'")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        try reportingErrors {
            let url = URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath()
            let result = try CheckpointEvaluation.run(checkpoint: url, split: split, batchSize: batchSize)
            print(String(format: "%@ %@: accuracy %.4f  loss %.4f  (%d samples, step %d)",
                         url.path, split, result.accuracy, result.loss, result.count, result.step))
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
