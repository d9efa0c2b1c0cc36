import ArgumentParser
import Foundation
import PhalanxReport

/// `phalanx report`: a self-contained HTML page about a run, an ensemble or a sweep.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write report.html for a run, an ensemble or a sweep directory.",
        discussion: """
        A run: loss, accuracy and the task's other metrics for train and validation, learning rate and \
        throughput (metrics.jsonl), the final figures (summary.json); a classifier's checkpoint is evaluated \
        on the test split for a confusion matrix, per-class accuracy and a grid of misclassified examples; \
        the images the run wrote (samples/*.png) are shown. An ensemble directory (ensemble.json): members \
        against the vote. A sweep directory (sweep.json): the metric against each swept parameter. \
        Every picture is embedded, so the page opens offline as one file.
        Example: phalanx report runs/fashion-lenet
        """)

    @Argument(help: "A run directory (holding metrics.jsonl), an ensemble's or a sweep's.")
    var directory: String

    @Option(name: .shortAndLong, help: "Where to write the page (default: <directory>/report.html).")
    var output: String?

    @Option(help: "Misclassified test examples to show (the most confident mistakes).")
    var misclassified = 48

    @Option(help: "Evaluation batch size for the checkpoint's test pass.")
    var batchSize = 500

    @Flag(help: "Do not evaluate the checkpoint (no confusion matrix or misclassified examples).")
    var noEvaluation = false

    func validate() throws {
        guard misclassified >= 0 else { throw ValidationError("--misclassified must not be negative") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        try reportingErrors {
            var options = RunReport.Options()
            options.misclassified = misclassified
            options.batchSize = batchSize
            options.evaluate = !noEvaluation
            let url = try RunReport.write(run: URL(fileURLWithPath: directory), to: output.map { URL(fileURLWithPath: $0) },
                                          options: options) { print($0) }
            print("wrote \(url.path)")
        }
    }
}
