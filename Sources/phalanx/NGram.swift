import ArgumentParser
import Foundation
import PhalanxTraining

/// `phalanx ngram`: the n-gram baseline of a language-model config.
struct NGram: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ngram",
        abstract: "Fit n-gram models to a language model's text and print their held-out perplexity.",
        discussion: """
        Examples:
          phalanx ngram --config configs/fortunes-wordlm.yaml --order 3 --smoothing kneser-ney
          phalanx ngram --config configs/fortunes-wordlm.yaml --order 2,3,4,5 --smoothing kneser-ney,add-k --k 0.01
        The text, tokens (data.tokens), vocabulary (data.vocabulary) and held-out split
        (data.validation, the end of the text) are the config's, as the recurrent model
        sees them. kneser-ney is interpolated Kneser–Ney with one discount per order,
        D = n1 / (n1 + 2 n2); add-k adds k to every count of the full-order context.
        Perplexity is exp of the mean negative log-probability of every held-out token
        after the first, the held-out text read as one stream.
        """)

    @Option(help: "A language-model config (data.dataset: text).")
    var config: String

    @Option(name: .customLong("set"), help: "Override a config value, e.g. --set data.vocabulary=5000 (repeatable).")
    var overrides: [String] = []

    @Option(help: "Orders n, comma-separated (1…5).")
    var order = "3"

    @Option(help: "Smoothing, comma-separated: kneser-ney, add-k.")
    var smoothing = "kneser-ney"

    @Option(help: "add-k: the count added to every n-gram.")
    var k = 0.01

    @Flag(help: "Print the results as JSON.")
    var json = false

    var orders: [Int] { order.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    var smoothings: [String] { smoothing.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        let o = order.split(separator: ",")
        guard !o.isEmpty, orders.count == o.count, orders.allSatisfy({ (1...5).contains($0) }) else {
            throw ValidationError("--order takes orders 1…5, comma-separated, not '\(order)'")
        }
        for s in smoothings where !["kneser-ney", "kn", "add-k"].contains(s) {
            throw ValidationError("--smoothing '\(s)': known: kneser-ney, add-k")
        }
        if !(k > 0) { throw ValidationError("--k must be positive") }
    }

    func run() throws {
        try reportingErrors {
            let loaded = try ConfigLoader.load(path: config, overrides: overrides)
            let results = try NGramBaseline.evaluate(loaded, orders: orders, smoothings: smoothings, k: k)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(results), as: UTF8.self))
                return
            }
            if let r = results.first {
                print("\(config): \(r.trainTokens) training and \(r.heldOutTokens + 1) held-out tokens, vocabulary \(r.vocabulary)")
            }
            for r in results {
                let name = r.smoothing == "add-k" ? "add-k (k=\(k))" : r.smoothing
                print(String(format: "order %d  %@  held-out perplexity %.2f  (%.1f s)", r.order, name, r.heldOutPerplexity, r.seconds))
            }
        }
    }
}
