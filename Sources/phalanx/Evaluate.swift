import ArgumentParser
import Foundation
import PhalanxData
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

    @Option(help: ArgumentHelp("Also write the classifier's outputs on the split, in order, as float32 [N, K] .npy.",
                               valueName: "file.npy"))
    var logits: String?

    func validate() throws {
        guard ["test", "validation", "train"].contains(split) else {
            throw ValidationError("--split must be test, validation or train, got '\(split)'")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        try reportingErrors {
            let url = URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath()
            let kind = try TaskRegistry.kind(ofCheckpoint: url)
            if logits != nil && kind.name != "classification" {
                throw ValidationError("--logits takes a classifier checkpoint; \(url.path) is a \(kind.name) checkpoint")
            }
            let report = try kind.evaluate(checkpoint: url, EvaluationRequest(split: split, batchSize: batchSize))
            var object: [String: Any] = ["checkpoint": url.path]
            for (k, v) in report.values { object[k] = v.rounded() == v && abs(v) < 1e15 ? Int(v) as Any : v }
            for (k, v) in report.labels { object[k] = v }
            if let logits {
                let model = try LoadedModel(url)
                let dataset = try model.dataset(split, of: try model.data())
                try NumPy.write(try model.logits(on: dataset, batchSize: min(batchSize, max(dataset.count, 1))), to: logits)
                object["logits"] = logits
            }
            emit(object, report.line)
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
        discussion: """
        Examples:
          phalanx inspect runs/fashion-lenet/checkpoints/latest
          phalanx inspect runs/fortunes-wordlm/checkpoints/latest --neighbours love,money,computer
        With --neighbours (a word language model) it prints, for each word, the 10 words whose
        rows of the embedding matrix have the highest cosine similarity to its row (--tensor
        head.weight: the rows of the output projection instead).
        """)

    @Argument(help: "A checkpoint directory, its latest/best link, or a .safetensors file.")
    var path: String

    @Option(help: "Word model: comma-separated words whose nearest neighbours in the embedding to list.")
    var neighbours: String?

    @Option(help: "Neighbours listed per word.")
    var count = 10

    @Option(help: "With --neighbours: the [V, D] tensor whose rows are compared (default: the embedding's weight; e.g. head.weight).")
    var tensor: String?

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if let n = neighbours, n.split(separator: ",").isEmpty { throw ValidationError("--neighbours takes words, comma-separated") }
    }

    func run() throws {
        try reportingErrors {
            if let neighbours {
                let words = neighbours.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                for line in try LanguageModel.neighbours(checkpoint: URL(fileURLWithPath: path), words: words, count: count,
                                                                       tensor: tensor) {
                    print(line)
                }
                return
            }
            print(try CheckpointSummary.inspect(URL(fileURLWithPath: path)))
        }
    }
}
