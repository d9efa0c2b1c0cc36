// Sweeps and ensembles work through the task registry: a sweep over a language model
// ranks its trials by held-out bits per character, lowest first; an ensemble of a task
// that cannot vote is refused by name.
import Foundation
import PhalanxTestSupport
import Testing
@testable import PhalanxCoordinator
@testable import PhalanxTraining

@Suite(.serialized) struct SweepTaskTests {
    @Test func aSweepOverALanguageModelPicksTheLowestBitsPerCharacter() throws {
        let text = TinyText()
        defer { text.cleanUp() }
        let dir = text.directory
        let yaml = text.config(name: "lm-sweep", epochs: 2, extra: """
            sweep:
              method: grid
              metric: validation_bits_per_char
              parameters:
                train.optimizer.lr: {values: [0.0001, 0.03, 0.001]}
            """)
        var options = CoordinatorOptions()
        options.quiet = true
        let results = try SweepRunner(try ConfigLoader.load(yaml: yaml), options: options).run()
        #expect(results.count == 3)
        let bits = results.map(\.metric)
        #expect(bits == bits.sorted(), "sorted lowest first: \(bits)")
        #expect(results[0].values["train.optimizer.lr"] == "0.03", "best \(results[0].values)")
        #expect(results.allSatisfy { $0.metrics["validation_bits_per_char"] == $0.metric })
        // best.yaml holds only the language model's keys: it loads and names its task.
        let best = try ConfigLoader.load(path: "\(dir)/runs/lm-sweep/best.yaml")
        #expect(try TaskRegistry.kind(of: best).name == "language_model")
        #expect(best.config.train.optimizer.lr == 0.03)
        // Without `metric:` the task's monitored metric ranks the trials; an accuracy is refused.
        let unnamed = try ConfigLoader.load(yaml: yaml.replacingOccurrences(of: "  metric: validation_bits_per_char\n", with: ""))
        var resume = options
        resume.resume = true
        #expect(try SweepRunner(unnamed, options: resume).run().map(\.trial) == results.map(\.trial))
        let wrong = try ConfigLoader.load(yaml: yaml.replacingOccurrences(of: "metric: validation_bits_per_char",
                                                                           with: "metric: validation_accuracy"))
        #expect { try SweepRunner(wrong, options: options).run() } throws: {
            ($0 as? ConfigError)?.key == "sweep.metric" && "\($0)".contains("validation_bits_per_char")
        }
        let ensemble = try ConfigLoader.load(yaml: yaml.replacingOccurrences(of: "sweep:", with: "ensemble: {members: 2}\nunused:")
            .components(separatedBy: "unused:")[0])
        #expect { try EnsembleRunner(ensemble, options: options).run() } throws: {
            ($0 as? ConfigError)?.key == "data.dataset" && "\($0)".contains("language_model")
        }
    }
}
