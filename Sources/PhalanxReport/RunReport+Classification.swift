// A classifier's checkpoint on the test split: the confusion matrix, per-class accuracy
// and precision, and a grid of the most confident mistakes with their labels.
import Foundation
import PhalanxData
import PhalanxTraining

extension RunReport {
    /// What the checkpoint's test pass gave.
    struct TestPass {
        var confusion: ConfusionMatrix
        var classNames: [String]
        var predicted: [Int]
        var confidence: [Float]
        var test: Dataset
        var step: Int
    }

    /// Loads `checkpoint`, rebuilds its data and predicts every test sample.
    static func testPass(_ checkpoint: URL, batchSize: Int) throws -> TestPass {
        let model = try LoadedModel(checkpoint)
        let test = try model.data().test
        let (predicted, confidence) = try Evaluation.predictions(model.network, on: test,
                                                                 normalization: model.normalization,
                                                                 batchSize: batchSize)
        let confusion = try ConfusionMatrix(predicted: predicted, actual: test.labels.map(Int.init),
                                            classes: test.classCount)
        return TestPass(confusion: confusion, classNames: ClassNames.of(model.config, count: test.classCount),
                        predicted: predicted, confidence: confidence, test: test, step: model.step)
    }

    static func classificationSections(_ page: inout HTMLPage, checkpoint: URL, summary: RunSummary?,
                                       options: Options) throws {
        let pass: TestPass
        do {
            pass = try testPass(checkpoint, batchSize: options.batchSize)
        } catch {
            // The cause names its file (trainer.json, model.safetensors, the data); say what to do.
            throw ReportError(file: checkpoint.path, "cannot evaluate it on the test split: \(error) "
                + "(--no-evaluation writes the page without the test pass)")
        }
        let cm = pass.confusion, names = pass.classNames
        page.section("confusion", "Confusion matrix (test split)")
        var note = "\(checkpoint.lastPathComponent) (step \(pass.step)) on the \(cm.total) test samples: accuracy "
            + String(format: "%.4f", cm.accuracy) + " (\(cm.correct) right)"
        if let reported = summary?.metrics["test_accuracy"] {
            note += abs(reported - cm.accuracy) < 1e-9 ? "; summary.json reports the same"
                : "; summary.json reports " + String(format: "%.4f", reported) + " (of another checkpoint?)"
        }
        page.paragraph(note + ". Rows are the true class, columns the predicted one; shading is the row's share.",
                       className: "note")
        page.raw(confusionTable(cm, names: names))
        page.section("per-class", "Per-class accuracy (test split)")
        page.raw(perClassTable(cm, names: names))
        page.section("misclassified", "Misclassified test examples")
        let wrong = pass.predicted.indices.filter { pass.predicted[$0] != Int(pass.test.labels[$0]) }
        let shown = wrong.sorted { pass.confidence[$0] > pass.confidence[$1] }.prefix(max(0, options.misclassified))
        let items = shown.map {
            LabelledImageGrid.Item(index: $0, predicted: names[pass.predicted[$0]], actual: names[Int(pass.test.labels[$0])])
        }
        guard let canvas = LabelledImageGrid.render(images: pass.test.images, items: items) else {
            page.paragraph(wrong.isEmpty ? "No test sample is misclassified." : "Nothing to show.", className: "note")
            return
        }
        page.figure(png: try canvas.png(), alt: "misclassified test examples",
                    caption: "The \(items.count) most confident of the \(wrong.count) mistakes, most confident first: "
                        + "the predicted class in red over the true class in grey.")
    }

    /// The matrix as an HTML table, each cell shaded by its share of the row.
    static func confusionTable(_ cm: ConfusionMatrix, names: [String]) -> String {
        let e = HTMLPage.escape
        var html = "<table class=\"confusion\"><thead><tr><th>true \\ predicted</th>"
            + names.map { "<th>\(e($0))</th>" }.joined() + "<th>samples</th></tr></thead><tbody>\n"
        for t in 0..<cm.classes {
            let support = cm.support(t)
            html += "<tr><th class=\"true\">\(e(names[t]))</th>"
            for p in 0..<cm.classes {
                let n = cm.counts[t][p], share = support == 0 ? 0 : Double(n) / Double(support)
                let colour = t == p ? "31,119,180" : "214,39,40"
                let ink = share > 0.55 ? "color:#fff;" : ""
                let tip = "true \(names[t]), predicted \(names[p]): \(n)" + String(format: " (%.1f%%)", 100 * share)
                html += "<td style=\"\(ink)background:rgba(\(colour),\(String(format: "%.3f", min(1, share * (t == p ? 1 : 3)))))\""
                    + " title=\"\(e(tip))\">\(n)</td>"
            }
            html += "<td class=\"num\">\(support)</td></tr>\n"
        }
        html += "<tr><th class=\"true\">predicted</th>"
            + (0..<cm.classes).map { "<td>\(cm.predictedCount($0))</td>" }.joined() + "<td class=\"num\">\(cm.total)</td></tr>\n"
        return html + "</tbody></table>"
    }

    /// Accuracy (recall) and precision of each class, with a bar for the accuracy.
    static func perClassTable(_ cm: ConfusionMatrix, names: [String]) -> String {
        let e = HTMLPage.escape
        func pct(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "–" }
        var html = "<table><thead><tr><th>class</th><th>samples</th><th>right</th><th>accuracy</th>"
            + "<th>precision</th><th></th></tr></thead><tbody>\n"
        for k in 0..<cm.classes {
            let recall = cm.recall(k)
            html += "<tr><td>\(e(names[k]))</td><td class=\"num\">\(cm.support(k))</td><td class=\"num\">\(cm.counts[k][k])</td>"
                + "<td class=\"num\">\(pct(recall))</td><td class=\"num\">\(pct(cm.precision(k)))</td>"
                + "<td><span class=\"bar\" style=\"width:\(Int(((recall ?? 0) * 240).rounded()))px\"></span></td></tr>\n"
        }
        return html + "</tbody></table>"
    }
}
