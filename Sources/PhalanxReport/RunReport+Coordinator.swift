// The pages of a coordinator's directories: an ensemble (ensemble.json beside member-k/)
// shows its members against the soft and hard vote and their validation curves; a sweep
// (sweep.json beside trial-00k/) its trials and the metric against each swept parameter.
import Foundation
import PhalanxAnalysis
import PhalanxCoordinator
import PhalanxTraining

extension RunReport {
    static func ensemblePage(_ run: URL, say: (String) -> Void) throws -> String {
        let report = try RunFiles.decode(EnsembleReport.self, from: run.appendingPathComponent(RunFiles.ensemble),
                                         what: "an ensemble report")
        var page = HTMLPage(title: report.name)
        page.section("members", "Members against the vote (test split)")
        let rows: [(name: String, accuracy: Double, vote: Bool, oob: Double?, weight: Double?)] =
            report.members.map { ($0.name, $0.testAccuracy, false, $0.outOfBagAccuracy, $0.weight) }
            + [("soft vote" + (report.vote == "soft" ? " (the ensemble)" : ""), report.softVoteAccuracy, true, nil, nil),
               ("hard vote" + (report.vote == "hard" ? " (the ensemble)" : ""), report.hardVoteAccuracy, true, nil, nil)]
        let lo = max(0, (rows.map(\.accuracy).min() ?? 0) - 0.01), hi = max(rows.map(\.accuracy).max() ?? 1, lo + 1e-6)
        let e = HTMLPage.escape
        var html = "<table><thead><tr><th></th><th>test accuracy</th><th>out-of-bag accuracy</th><th>vote weight</th>"
            + "<th>from \(String(format: "%.3f", lo))</th></tr></thead><tbody>\n"
        for r in rows {
            let width = Int(((r.accuracy - lo) / (hi - lo) * 300).rounded())
            html += "<tr><td>\(e(r.name))</td><td class=\"num\">\(String(format: "%.4f", r.accuracy))</td>"
                + "<td class=\"num\">\(r.oob.map { String(format: "%.4f", $0) } ?? "")</td>"
                + "<td class=\"num\">\(r.weight.map { String(format: "%.3f", $0) } ?? "")</td>"
                + "<td><span class=\"bar\(r.vote ? " vote" : "")\" style=\"width:\(width)px\"></span></td></tr>\n"
        }
        page.raw(html + "</tbody></table>")
        var note = "\(report.members.count) members (\(report.method)); best member "
            + String(format: "%.4f, mean %.4f; members disagree on %.1f%% of the %d test samples (any pair: %.1f%%)",
                     report.bestMemberAccuracy, report.meanMemberAccuracy, 100 * report.disagreement,
                     report.testSamples, 100 * report.pairwiseDisagreement)
        if let o = report.outOfBag {
            note += String(format: "; out-of-bag estimate %.4f on %d of %d training samples", o.accuracy, o.covered, o.total)
        }
        page.paragraph(note + ".", className: "note")
        let n = Double(report.members.count)
        let members = (name: "members", x: report.members.indices.map { Double($0 + 1) }, y: report.members.map(\.testAccuracy))
        let votes = [("soft vote", report.softVoteAccuracy), ("hard vote", report.hardVoteAccuracy)].map {
            (name: $0.0, x: [1, max(n, 2)], y: [$0.1, $0.1])
        }
        let canvas = try LinePlot.render(series: [members] + votes, title: "members against the vote",
                                         xLabel: "member", yLabel: "test accuracy",
                                         width: plotSize.width, height: plotSize.height)
        page.figure(png: try canvas.png(), alt: "members against the vote",
                    caption: "each member's test accuracy and the soft and hard vote of all of them", plot: true)
        let curves = try memberCurves(run, names: report.members.map(\.name), metric: "validation_accuracy")
            ?? memberCurves(run, names: report.members.map(\.name), metric: "validation_loss")
        if let curves { page.figure(png: curves.png, alt: curves.title, caption: curves.caption, plot: true) }
        return page.html(subtitle: "ensemble of \(report.members.count) (\(report.method), \(report.vote) vote) · "
            + String(format: "test accuracy %.4f", report.accuracy) + " · \(run.path)")
    }

    static func sweepPage(_ run: URL, say: (String) -> Void) throws -> String {
        let url = run.appendingPathComponent(RunFiles.sweep)
        let results = try RunFiles.decode([SweepResult].self, from: url, what: "a sweep's results")
        guard !results.isEmpty else { throw ReportError(file: url.path, "holds no finished trials") }
        let metric = sweepMetric(results)
        let keys = Set(results.flatMap(\.values.keys)).sorted()
        var page = HTMLPage(title: run.lastPathComponent)
        page.section("trials", "Trials, best first by \(metric)")
        let others = ["validation_accuracy", "test_accuracy", "validation_loss", "test_loss"].filter { name in
            name != metric && results.contains { $0.metrics[name] != nil }
        }
        page.table(header: ["trial"] + keys + [metric] + others + ["seconds"],
                   rows: results.map { r in
                       [r.trial] + keys.map { r.values[$0] ?? "" } + [format(r.metric)]
                           + others.map { r.metrics[$0].map(format) ?? "" } + [String(format: "%.0f", r.seconds)]
                   }, numeric: Set((keys.count + 1)...(keys.count + others.count + 2)))
        page.section("parameters", "\(metric) against each swept parameter")
        let finite = results.filter { $0.metric.isFinite }
        var fixed: [String] = []
        for key in keys {
            let points = finite.compactMap { r in r.values[key].map { ($0, r.metric) } }
            guard !points.isEmpty else { continue }
            if Set(points.map(\.0)).count == 1 {
                fixed.append("\(key) = \(points[0].0)")  // one value: nothing to plot against
                continue
            }
            let numbers = points.compactMap { Double($0.0) }
            var xs: [Double], xLabel = key, caption = "\(metric) of each trial against \(key)"
            if numbers.count == points.count {
                let positive = numbers.allSatisfy { $0 > 0 }
                if positive, let lo = numbers.min(), let hi = numbers.max(), hi / lo >= 20 {
                    xs = numbers.map { log10($0) }
                    xLabel = "log10 \(key)"
                } else {
                    xs = numbers
                }
            } else {
                let levels = Array(Set(points.map(\.0))).sorted()
                xs = points.map { Double(levels.firstIndex(of: $0.0) ?? 0) }
                caption += " (values numbered " + levels.enumerated().map { "\($0.offset): \($0.element)" }
                    .joined(separator: ", ") + ")"
            }
            let matrix = Matrix(rows: points.count, cols: 2, doubles: zip(xs, points.map(\.1)).flatMap { [$0.0, $0.1] })
            let canvas = try ScatterPlot.render(points: matrix, title: "\(metric) against \(key)", xLabel: xLabel,
                                                yLabel: metric, width: plotSize.width, height: plotSize.height)
            page.figure(png: try canvas.png(), alt: "\(metric) against \(key)", caption: caption, plot: true)
        }
        if !fixed.isEmpty {
            page.paragraph("Every trial drew the same " + fixed.joined(separator: ", ") + ".", className: "note")
        }
        if let curves = try memberCurves(run, names: results.map(\.trial), metric: metric) {
            page.section("curves", "\(metric) of every trial")
            page.figure(png: curves.png, alt: curves.title, caption: curves.caption, plot: true)
        }
        let best = results[0]
        return page.html(subtitle: "sweep of \(results.count) trials over \(keys.joined(separator: ", ")) · best "
            + "\(best.trial): \(metric) \(format(best.metric)) · \(url.path)")
    }

    /// The metric a sweep ranked by: the summary metric equal to every trial's `metric`
    /// (validation ones first); "metric" when none is.
    static func sweepMetric(_ results: [SweepResult]) -> String {
        let names = Set(results.flatMap(\.metrics.keys)).sorted { order($0) < order($1) }
        return names.first { name in results.allSatisfy { r in !r.metric.isFinite || r.metrics[name] == r.metric } }
            ?? "metric"
    }

    /// `metric` (`validation_accuracy`: the validation records' accuracy) by epoch for each
    /// job directory `run/<name>` that has a metrics.jsonl; nil when fewer than one has two points.
    static func memberCurves(_ run: URL, names: [String], metric: String) throws -> Plot? {
        guard let cut = metric.firstIndex(of: "_") else { return nil }
        let split = String(metric[..<cut]), name = String(metric[metric.index(after: cut)...])
        var series: [(name: String, x: [Double], y: [Double])] = []
        for job in names {
            let url = run.appendingPathComponent(job).appendingPathComponent(RunFiles.metrics)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let points = try RunFiles.readMetrics(url).filter { $0.split == split }
                .compactMap { r in r.metrics[name].map { (Double(r.epoch), $0) } }.filter { $0.1.isFinite }
            if points.count >= 2 { series.append((job, points.map(\.0), points.map(\.1))) }
        }
        guard !series.isEmpty else { return nil }
        let canvas = try LinePlot.render(series: series, title: metric.replacingOccurrences(of: "_", with: " "),
                                         xLabel: "epoch", yLabel: metric, width: plotSize.width, height: plotSize.height)
        return Plot(png: try canvas.png(), title: metric, caption: "\(metric) by epoch of each of \(series.count) runs")
    }
}
