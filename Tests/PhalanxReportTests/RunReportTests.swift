// `phalanx report`: the confusion matrix on a hand-made case, the sections of the page for
// small synthetic run, ensemble and sweep directories and for a tiny classifier trained
// here, and the errors for a directory without metrics.jsonl or with a corrupt line.
import Foundation
import PhalanxData
import PhalanxTestSupport
import PhalanxTraining
@testable import PhalanxReport
import XCTest

final class RunReportTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("phalanx-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func write(_ text: String, _ path: String) throws {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// metrics.jsonl of `epochs` epochs: a train and a validation line each, a test line at the end.
    private func metricsLines(epochs: Int, extra: String = "") -> String {
        var lines: [String] = []
        for e in 1...epochs {
            let loss = 1.0 / Double(e)
            lines.append(#"{"step":\#(10 * e),"epoch":\#(e),"split":"train","loss":\#(loss),"accuracy":\#(0.5 + 0.1 * Double(e)),"lr":\#(0.1 / Double(e)),"samples_per_sec":\#(1000 + e),"time":\#(e)\#(extra)}"#)
            lines.append(#"{"step":\#(10 * e),"epoch":\#(e),"split":"validation","loss":\#(loss + 0.1),"accuracy":\#(0.45 + 0.1 * Double(e)),"time":\#(e)\#(extra)}"#)
        }
        lines.append(#"{"step":\#(10 * epochs),"epoch":\#(epochs),"split":"test","loss":0.5,"accuracy":0.77,"time":\#(epochs)}"#)
        return lines.joined(separator: "\n") + "\n"
    }

    private func sections(_ html: String) -> [String] {
        html.components(separatedBy: "<section id=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    private func images(_ html: String) -> Int { html.components(separatedBy: "<img src=\"data:image/png;base64,").count - 1 }

    // MARK: the confusion matrix

    func testConfusionMatrixOnAHandCase() throws {
        // true:      0  1  2  2  2  0  0
        // predicted: 0  1  1  2  2  2  0
        let cm = try ConfusionMatrix(predicted: [0, 1, 1, 2, 2, 2, 0], actual: [0, 1, 2, 2, 2, 0, 0], classes: 3)
        XCTAssertEqual(cm.counts, [[2, 0, 1], [0, 1, 0], [0, 1, 2]])
        XCTAssertEqual(cm.total, 7)
        XCTAssertEqual(cm.correct, 5)
        XCTAssertEqual(cm.accuracy, 5.0 / 7.0, accuracy: 1e-15)
        XCTAssertEqual(cm.support(0), 3)
        XCTAssertEqual(cm.predictedCount(2), 3)
        XCTAssertEqual(cm.recall(0)!, 2.0 / 3.0, accuracy: 1e-15)
        XCTAssertEqual(cm.recall(1)!, 1.0)
        XCTAssertEqual(cm.precision(1)!, 0.5)
        XCTAssertEqual(cm.precision(2)!, 2.0 / 3.0, accuracy: 1e-15)
        let empty = try ConfusionMatrix(predicted: [0], actual: [0], classes: 2)
        XCTAssertNil(empty.recall(1))
        XCTAssertNil(empty.precision(1))
        XCTAssertThrowsError(try ConfusionMatrix(predicted: [0, 1], actual: [0], classes: 2))
        XCTAssertThrowsError(try ConfusionMatrix(predicted: [3], actual: [0], classes: 3)) { error in
            XCTAssertTrue("\(error)".contains("class 3 outside the 3 classes"), "\(error)")
        }
        // The table: a cell per pair, the diagonal's counts.
        let table = RunReport.confusionTable(cm, names: ["a", "b", "c"])
        XCTAssertEqual(table.components(separatedBy: "title=\"true ").count - 1, 9)
        XCTAssertTrue(table.contains("title=\"true a, predicted c: 1 (33.3%)\">1</td>"), table)
    }

    // MARK: pages

    func testRunPageHasItsSections() throws {
        try write(metricsLines(epochs: 3), "run/metrics.jsonl")
        try write(#"{"name":"tiny-run","task":"autoencoder","epochs":3,"steps":30,"seconds":3,"samples_per_sec":1003,"#
                  + #""checkpoint":"","stopped_early":false,"validation_loss":0.433,"test_loss":0.5}"#, "run/summary.json")
        let samples = directory.appendingPathComponent("run/samples")
        try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        for e in 1...3 {
            try PNG.writeGrayscale([UInt8](repeating: UInt8(60 * e), count: 12 * 8), width: 12, height: 8,
                                   to: samples.appendingPathComponent(String(format: "epoch-%03d.png", e)).path)
        }
        let url = try RunReport.write(run: directory.appendingPathComponent("run"))
        XCTAssertEqual(url.lastPathComponent, "report.html")
        let html = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(sections(html), ["summary", "curves", "samples"])
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("<title>tiny-run — Phalanx report</title>"))
        XCTAssertTrue(html.contains("task autoencoder"))
        XCTAssertTrue(html.contains("<td>validation_loss</td><td class=\"num\">0.433</td>"), html)
        // loss, accuracy, learning rate, throughput; three sample grids.
        XCTAssertEqual(images(html), 4 + 3)
        for caption in ["loss by epoch: train (3 points), validation (3 points)", "learning rate at the step",
                        "training samples per second", "samples/epoch-003.png"] {
            XCTAssertTrue(html.contains(caption), caption)
        }
        // Self-contained: nothing is fetched from anywhere.
        XCTAssertFalse(html.contains("src=\"http"))
        XCTAssertFalse(html.contains("href=\"http"))
    }

    func testEnsemblePageShowsMembersAgainstTheVote() throws {
        try write("""
        {"name":"bag","method":"bagging","vote":"soft","accuracy":0.91,"soft_vote_accuracy":0.91,"hard_vote_accuracy":0.905,
         "best_member_accuracy":0.9,"mean_member_accuracy":0.895,"disagreement":0.1,"pairwise_disagreement":0.05,
         "test_samples":100,"members":[
          {"name":"member-1","checkpoint":"x","test_accuracy":0.9,"weight":1,"out_of_bag_accuracy":0.89},
          {"name":"member-2","checkpoint":"y","test_accuracy":0.89,"weight":1}]}
        """, "bag/ensemble.json")
        try write(metricsLines(epochs: 3), "bag/member-1/metrics.jsonl")
        try write(metricsLines(epochs: 2), "bag/member-2/metrics.jsonl")
        let html = try RunReport.html(run: directory.appendingPathComponent("bag"))
        XCTAssertEqual(sections(html), ["members"])
        XCTAssertTrue(html.contains("<td>soft vote (the ensemble)</td><td class=\"num\">0.9100</td>"), html)
        XCTAssertTrue(html.contains("<td>member-1</td><td class=\"num\">0.9000</td><td class=\"num\">0.8900</td>"))
        XCTAssertEqual(images(html), 2)  // members against the vote; validation accuracy curves
        XCTAssertTrue(html.contains("validation_accuracy by epoch of each of 2 runs"))
    }

    func testSweepPagePlotsTheMetricAgainstEachParameter() throws {
        var trials: [String] = []
        for (k, (lr, opt)) in [("0.001", "sgd"), ("0.01", "adam"), ("0.1", "sgd")].enumerated() {
            let acc = 0.8 + 0.05 * Double(k)
            trials.append(#"{"trial":"trial-00\#(k + 1)","values":{"train.optimizer.lr":"\#(lr)","train.optimizer.kind":"\#(opt)"},"#
                          + #""metric":\#(acc),"metrics":{"validation_accuracy":\#(acc),"test_accuracy":0.7},"seconds":2,"checkpoint":"c"}"#)
            try write(metricsLines(epochs: 2), "sweep/trial-00\(k + 1)/metrics.jsonl")
        }
        try write("[" + trials.reversed().joined(separator: ",") + "]", "sweep/sweep.json")
        let html = try RunReport.html(run: directory.appendingPathComponent("sweep"))
        XCTAssertEqual(sections(html), ["trials", "parameters", "curves"])
        XCTAssertTrue(html.contains("Trials, best first by validation_accuracy"))
        XCTAssertTrue(html.contains("<figcaption>validation_accuracy of each trial against train.optimizer.kind "
            + "(values numbered 0: adam, 1: sgd)</figcaption>"), html)
        XCTAssertEqual(images(html), 3)  // against lr (log10: 0.001 … 0.1), against the optimizer, curves
        XCTAssertTrue(html.contains("alt=\"validation_accuracy against train.optimizer.lr\""))
    }

    /// A classifier trained here on 8×8 band images: the checkpoint's test pass in the page.
    func testClassifierPageEvaluatesTheCheckpointOnTheTestSplit() throws {
        var images = BandImages(side: 8, seed: 3, label: { $0 % 3 }, band: { $0 * 3 / 8 }, bright: 150, dark: 40, noise: 140)
        try images.write(train: 180, test: 45, to: directory.path)
        let yaml = """
        name: tiny
        seed: 5
        data: {dataset: idx, directory: \(directory.path), train_images: train-images-idx3-ubyte.gz,
               train_labels: train-labels-idx1-ubyte.gz, test_images: t10k-images-idx3-ubyte.gz,
               test_labels: t10k-labels-idx1-ubyte.gz, validation: 30}
        model:
          input: [1, 8, 8]
          layers: [{kind: flatten}, {kind: linear, name: fc, out: 3}]
        train: {epochs: 2, batch_size: 30, optimizer: {kind: sgd, lr: 0.01}, threads: 1}
        checkpoint: {directory: \(directory.path)/runs}
        logging: {tensorboard: false}
        """
        var options = TrainOptions()
        options.quiet = true
        let summary = try Trainer(try ConfigLoader.load(yaml: yaml), options: options).run()
        let run = directory.appendingPathComponent("runs/tiny")
        var reportOptions = RunReport.Options()
        reportOptions.misclassified = 5
        let html = try String(contentsOf: try RunReport.write(run: run, options: reportOptions), encoding: .utf8)
        XCTAssertEqual(sections(html), ["summary", "curves", "confusion", "per-class", "misclassified"])
        // The test pass agrees with the run's own test figure, and the matrix holds the 45 samples.
        XCTAssertTrue(html.contains("on the 45 test samples: accuracy " + String(format: "%.4f", summary.testAccuracy)), html)
        XCTAssertTrue(html.contains("summary.json reports the same"))
        XCTAssertTrue(html.contains("<td class=\"num\">45</td></tr>"))
        XCTAssertEqual(html.components(separatedBy: "title=\"true ").count - 1, 9)
        let wrong = Int((45 * (1 - summary.testAccuracy)).rounded())
        if wrong > 0 {
            XCTAssertTrue(html.contains("The \(min(5, wrong)) most confident of the \(wrong) mistakes"), html)
        }
    }

    // MARK: errors name the file

    func testDirectoryWithoutMetricsIsAnErrorNamingTheFile() throws {
        let run = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        XCTAssertThrowsError(try RunReport.html(run: run)) { error in
            guard let e = error as? ReportError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.file, run.appendingPathComponent("metrics.jsonl").path)
            XCTAssertTrue(e.description.contains("metrics.jsonl: no such file"), e.description)
        }
        XCTAssertThrowsError(try RunReport.html(run: directory.appendingPathComponent("nowhere"))) { error in
            XCTAssertTrue("\(error)".hasSuffix("nowhere: no such run directory"), "\(error)")
        }
    }

    func testCorruptLineIsAnErrorNamingFileAndLine() throws {
        let good = metricsLines(epochs: 1).split(separator: "\n").map(String.init)
        try write(good[0] + "\n" + good[1] + "\n" + #"{"step":20,"epoch":2,"split":"tr"# + "\n", "torn/metrics.jsonl")
        XCTAssertThrowsError(try RunReport.html(run: directory.appendingPathComponent("torn"))) { error in
            guard let e = error as? ReportError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.line, 3)
            XCTAssertTrue(e.description.hasSuffix("torn/metrics.jsonl:3: not a metrics record: not valid JSON"), e.description)
        }
        try write(good[0] + "\n\n" + #"{"step":20,"split":"train","loss":1,"time":2}"# + "\n", "field/metrics.jsonl")
        XCTAssertThrowsError(try RunReport.html(run: directory.appendingPathComponent("field"))) { error in
            XCTAssertTrue("\(error)".hasSuffix("field/metrics.jsonl:3: not a metrics record: no \"epoch\" field"), "\(error)")
        }
        try write(good[0] + "\n", "badsummary/metrics.jsonl")
        try write("{\"name\": 3}", "badsummary/summary.json")
        XCTAssertThrowsError(try RunReport.html(run: directory.appendingPathComponent("badsummary"))) { error in
            XCTAssertTrue("\(error)".contains("badsummary/summary.json: not a run summary: \"name\" is not of type String"),
                          "\(error)")
        }
    }
}
