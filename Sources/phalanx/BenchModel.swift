import ArgumentParser
import Foundation
import PhalanxCore
import PhalanxTraining

extension Bench {
    /// `phalanx bench model`: where a training step of a config's model goes, per layer.
    struct Model: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forward and backward milliseconds per layer of a config's model.",
            discussion: "Example: swift run -c release phalanx bench model --config configs/fashion-lenet.yaml")

        @Option(name: .shortAndLong, help: "The experiment config (YAML).")
        var config: String

        @Option(help: "Batch size (default: the config's train.batch_size).")
        var batch: Int?

        @Option(help: "Kernel threads (default: all cores).")
        var threads: Int?

        @Option(help: "Timed iterations (median reported).")
        var iterations = 20

        @Option(help: ArgumentHelp("Instead of the per-layer table: inference images/s (whole forward passes in evaluation mode) at each of these batch sizes, e.g. 1,256.", valueName: "batches"))
        var inference: String?

        func run() throws {
            try reportingErrors {
                let loaded = try ConfigLoader.load(path: config)
                if let threads { Parallel.threads = threads }
                if let inference {
                    let batches = inference.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                    guard !batches.isEmpty, batches.count == inference.split(separator: ",").count, batches.allSatisfy({ $0 > 0 }) else {
                        throw ValidationError("--inference: a comma-separated list of positive batch sizes, got '\(inference)'")
                    }
                    print("command: phalanx bench model --config \(config) --inference \(inference) (\(Parallel.threads) threads)")
                    for b in batches {
                        let ips = try ModelProfile.inference(loaded.config.model, batch: b, iterations: iterations)
                        print(String(format: "inference batch %d: %.0f images/s", b, ips))
                    }
                    return
                }
                let b = batch ?? loaded.config.train.batchSize
                let rows = try ModelProfile.run(loaded.config.model, batch: b, iterations: iterations)
                print("command: phalanx bench model --config \(config) --batch \(b) (\(Parallel.threads) threads)")
                print("layer".padding(toLength: 14, withPad: " ", startingAt: 0) + "kind".padding(toLength: 14, withPad: " ", startingAt: 0)
                      + "  fwd ms   bwd ms")
                var f = 0.0, g = 0.0
                for r in rows {
                    print(r.name.padding(toLength: 14, withPad: " ", startingAt: 0) + r.kind.padding(toLength: 14, withPad: " ", startingAt: 0)
                          + String(format: "%8.3f %8.3f", r.forwardMs, r.backwardMs))
                    f += r.forwardMs; g += r.backwardMs
                }
                print(String(format: "total%@%8.3f %8.3f   → %.0f images/s (layers only)", String(repeating: " ", count: 23), f, g,
                             Double(b) / ((f + g) / 1000)))
            }
        }
    }
}
