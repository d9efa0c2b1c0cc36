// The curves of a run's metrics.jsonl: every metric of the task for train and validation
// (test too when it was logged more than once), the learning rate, the throughput.
import Foundation
import PhalanxAnalysis
import PhalanxTraining

extension RunReport {
    /// One plot, ready for the page.
    struct Plot {
        var png: [UInt8]
        var title: String
        var caption: String
    }

    static let plotSize = (width: 760, height: 470)

    /// The plots of `records`: a metric per plot, splits as series, then lr (unless it is
    /// constant: then `constantRate` holds it) and throughput.
    static func curves(_ records: [MetricRecord], constantRate: inout Double?) throws -> [Plot] {
        let splits = ["train", "validation", "test"]
        let bySplit = Dictionary(grouping: records, by: \.split)
        // Epochs on the x axis when each split has one record an epoch, else steps.
        let perEpoch = bySplit.values.allSatisfy { Set($0.map(\.epoch)).count == $0.count }
        let xLabel = perEpoch ? "epoch" : "step"
        func x(_ r: MetricRecord) -> Double { Double(perEpoch ? r.epoch : r.step) }
        var names = ["loss", "accuracy"]
        names += Set(records.flatMap(\.values.keys)).subtracting(names).sorted()
        var plots: [Plot] = []
        for name in names {
            var series: [(name: String, x: [Double], y: [Double])] = []
            for split in splits {
                let points = (bySplit[split] ?? []).compactMap { r in r.metrics[name].map { (x(r), $0) } }
                    .filter { $0.1.isFinite }
                // A split logged once (the final test figures) is a number, not a curve: the summary shows it.
                guard points.count >= (split == "test" ? 2 : 1) else { continue }
                series.append((split, points.map(\.0), points.map(\.1)))
            }
            guard !series.isEmpty else { continue }
            let canvas = try LinePlot.render(series: series, title: name.replacingOccurrences(of: "_", with: " "),
                                             xLabel: xLabel, yLabel: name, width: plotSize.width, height: plotSize.height)
            plots.append(Plot(png: try canvas.png(), title: name,
                              caption: "\(name) by \(xLabel): " + series.map { "\($0.name) (\($0.x.count) points)" }
                                .joined(separator: ", ")))
        }
        let train = bySplit["train"] ?? []
        let lr = train.compactMap { r in r.lr.map { (Double(r.step), $0) } }.filter { $0.1.isFinite }
        if let first = lr.first, lr.allSatisfy({ $0.1 == first.1 }) {
            constantRate = first.1  // a flat line says less than the number
        } else if !lr.isEmpty {
            let canvas = try LinePlot.render(series: [("lr", lr.map(\.0), lr.map(\.1))], title: "learning rate",
                                             xLabel: "step", yLabel: "lr", width: plotSize.width, height: plotSize.height)
            plots.append(Plot(png: try canvas.png(), title: "learning rate",
                              caption: "learning rate at the step of each training record"))
        }
        let speed = train.compactMap { r in r.samplesPerSec.map { (x(r), $0) } }.filter { $0.1.isFinite }
        if !speed.isEmpty {
            let canvas = try LinePlot.render(series: [("train", speed.map(\.0), speed.map(\.1))], title: "throughput",
                                             xLabel: xLabel, yLabel: "samples/s", width: plotSize.width,
                                             height: plotSize.height)
            plots.append(Plot(png: try canvas.png(), title: "throughput",
                              caption: "training samples per second by \(xLabel)"))
        }
        return plots
    }

    static func curvesSection(_ page: inout HTMLPage, records: [MetricRecord]) throws {
        page.section("curves", "Training curves")
        var constantRate: Double?
        let plots = try curves(records, constantRate: &constantRate)
        if plots.isEmpty { page.paragraph("metrics.jsonl holds no finite figures to plot.", className: "note") }
        for p in plots { page.figure(png: p.png, alt: p.title, caption: p.caption, plot: true) }
        if let lr = constantRate { page.paragraph("The learning rate was \(format(lr)) throughout.", className: "note") }
    }

    /// The sample grids the run wrote (`samples/epoch-NNN.png`): up to `maxCount`, evenly
    /// spaced, the first and the last always. A file that is not a PNG is an error naming it.
    static func samplesSection(_ page: inout HTMLPage, run: URL, task: String?, maxCount: Int) throws {
        let files = RunFiles.sampleImages(in: run)
        guard !files.isEmpty, maxCount > 0 else { return }
        page.section("samples", "Images the run wrote")
        var chosen = Array(files.indices)
        if files.count > maxCount {
            chosen = maxCount == 1 ? [files.count - 1]
                : Array(Set((0..<maxCount).map { $0 * (files.count - 1) / (maxCount - 1) })).sorted()
        }
        page.paragraph("\(chosen.count) of the \(files.count) images in \(run.appendingPathComponent("samples").path)"
            + (task == "autoencoder" ? ": test images over their reconstructions, by epoch."
                : task == "gan" ? ": the generator's samples of the same fixed latents, by epoch." : "."),
            className: "note")
        for k in chosen {
            let bytes = try DurableFile.readAll(files[k])  // a CheckpointError naming the file
            guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
                throw ReportError(file: files[k].path, "not a PNG file (no PNG signature)")
            }
            // Small grids drawn twice their size, pixels kept square.
            let width = bytes.count >= 24 ? (16..<20).reduce(0) { $0 << 8 | Int(bytes[$1]) } : 0
            page.figure(png: bytes, alt: files[k].lastPathComponent, caption: "samples/" + files[k].lastPathComponent,
                        width: width > 0 && width <= 400 ? 2 * width : nil)
        }
    }
}
