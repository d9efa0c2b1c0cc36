// The pictures of `phalanx analyze`: scatter plots of 2-D embeddings coloured by class or
// cluster, and line plots of objective curves, drawn on a `Canvas` in matplotlib's manner
// (a frame, outward ticks at 1/2/5 × 10^k, a title, a legend). One `PlotAxes` lays out and
// draws the axes and the legend of both. Left out: log scales, grids, colour bars.
import Foundation
import PhalanxCore

/// Scatter plot of N points (an `N × 2` matrix), coloured by label, with a legend.
///
/// Points are discs with opacity, so dense regions read darker; their radius and opacity
/// follow N (2 px and 0.6 at 10 000 points, larger and more opaque for fewer), and they are
/// drawn in a fixed shuffled order so no class sits on top of all the others. Label `k ≥ 0`
/// takes colour `k` of `palette` (cycling past 20) and the name `classNames[k]` (or
/// "class k"); a negative label (DBSCAN's noise) draws grey as "noise". Without labels all
/// points are one colour and there is no legend.
public enum ScatterPlot {
    /// Draws `points` (`N × 2`: x, y) coloured by `labels` (one per point, or nil).
    public static func render(points: Matrix, labels: [Int]? = nil, classNames: [String] = [], title: String,
                              xLabel: String = "", yLabel: String = "",
                              width: Int = 900, height: Int = 760) throws(AnalysisError) -> Canvas {
        try points.validate(minimumRows: 1, method: "a scatter plot")
        guard points.cols == 2 else {
            throw .input("a scatter plot takes 2 columns (x, y), got \(points.rows)×\(points.cols)")
        }
        if let labels, labels.count != points.rows {
            throw .input("a scatter plot of \(points.rows) points got \(labels.count) labels")
        }
        let n = points.rows
        var xs = [Double](repeating: 0, count: n), ys = xs
        for i in 0..<n { (xs[i], ys[i]) = (Double(points[i, 0]), Double(points[i, 1])) }
        var entries: [PlotAxes.Entry] = []
        if let labels {
            let present = Set(labels)
            for k in present.filter({ $0 >= 0 }).sorted() {
                entries.append(.init(name: k < classNames.count ? classNames[k] : "class \(k)", color: color(label: k)))
            }
            if present.contains(where: { $0 < 0 }) { entries.append(.init(name: "noise", color: noise)) }
        }
        let axes = try PlotAxes(width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
                                xs: xs, ys: ys, legend: entries, legendOutside: true)
        var canvas = Canvas(width: width, height: height)
        let radius = min(6, max(1.5, 2 * pow(10_000 / Double(n), 0.25)))
        let alpha = min(0.9, max(0.3, 0.6 * pow(10_000 / Double(n), 0.25)))
        canvas.clip = axes.area
        var rng = RNG(seed: 0x5CA7_7E12)
        for i in rng.permutation(n) {
            let c = labels.map { color(label: $0[i]) } ?? palette[0]
            canvas.disc(axes.px(xs[i]), axes.py(ys[i]), radius: radius, c, alpha: alpha)
        }
        canvas.clip = PixelRect(x: 0, y: 0, width: width, height: height)
        axes.draw(on: &canvas)
        return canvas
    }

    /// Draws the plot and writes it as a PNG file at `path`.
    public static func write(to path: String, points: Matrix, labels: [Int]? = nil, classNames: [String] = [],
                             title: String, xLabel: String = "", yLabel: String = "") throws(AnalysisError) {
        try render(points: points, labels: labels, classNames: classNames, title: title,
                   xLabel: xLabel, yLabel: yLabel).write(to: path)
    }

    /// The qualitative palette: Tableau 10 (matplotlib's `tab10`), then its light partners (`tab20`).
    public static let palette: [Color] = ([
        0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD, 0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF,
        0xAEC7E8, 0xFFBB78, 0x98DF8A, 0xFF9896, 0xC5B0D5, 0xC49C94, 0xF7B6D2, 0xC7C7C7, 0xDBDB8D, 0x9EDAE5,
    ] as [UInt32]).map { Color(hex: $0) }

    /// The colour of points labelled `label` (grey for a negative label).
    public static func color(label: Int) -> Color { label < 0 ? noise : palette[label % palette.count] }

    static let noise = Color(hex: 0xB0B0B0)
}

/// Line plot of named series (objective curves: k-means inertia per iteration, t-SNE's KL
/// divergence, BIC against K), with the axes and legend of `ScatterPlot`.
///
/// Series take the `ScatterPlot.palette` colours in order; series of at most 40 points also
/// get a marker at each point. With more than one series a legend goes in the corner of the
/// plot area the lines cross least. When every x is a whole number, x ticks are too.
public enum LinePlot {
    /// Draws `series` (each x and y of equal, non-zero length, finite).
    public static func render(series: [(name: String, x: [Double], y: [Double])], title: String,
                              xLabel: String = "", yLabel: String = "",
                              width: Int = 900, height: Int = 600) throws(AnalysisError) -> Canvas {
        guard !series.isEmpty else { throw .input("a line plot needs at least one series") }
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            guard !s.x.isEmpty, s.x.count == s.y.count else {
                throw .input("line plot series \"\(s.name)\" has \(s.x.count) x and \(s.y.count) y values")
            }
            if let k = s.x.indices.first(where: { !s.x[$0].isFinite || !s.y[$0].isFinite }) {
                throw .input("line plot series \"\(s.name)\" holds (\(s.x[k]), \(s.y[k])) at point \(k)")
            }
            xs += s.x
            ys += s.y
        }
        let entries = series.count > 1
            ? series.indices.map { PlotAxes.Entry(name: series[$0].name, color: color(series: $0), line: true) } : []
        let axes = try PlotAxes(width: width, height: height, title: title, xLabel: xLabel, yLabel: yLabel,
                                xs: xs, ys: ys, legend: entries, legendOutside: false,
                                wholeX: xs.allSatisfy { $0 == $0.rounded() })
        var canvas = Canvas(width: width, height: height)
        canvas.clip = axes.area
        for (k, s) in series.enumerated() {
            let c = color(series: k)
            for i in 1..<max(s.x.count, 1) {
                canvas.line(from: axes.px(s.x[i - 1]), axes.py(s.y[i - 1]), to: axes.px(s.x[i]), axes.py(s.y[i]), c,
                            lineWidth: 2)
            }
            guard s.x.count <= 40 else { continue }
            for i in s.x.indices { canvas.disc(axes.px(s.x[i]), axes.py(s.y[i]), radius: 3.5, c) }
        }
        canvas.clip = PixelRect(x: 0, y: 0, width: width, height: height)
        axes.draw(on: &canvas)
        return canvas
    }

    static func color(series k: Int) -> Color { ScatterPlot.palette[k % 10] }
}

/// The frame, ticks, tick labels, title, axis labels and legend of a plot, and the map from
/// data to pixels: laid out once from the canvas size, the texts and the data's extent.
struct PlotAxes {
    /// A legend row: a swatch (a disc, or a line for a line plot) and a name.
    struct Entry {
        var name: String
        var color: Color
        var line = false
    }

    /// One axis: its view limits (the data's extent and 5 % on each side), ticks and their labels.
    struct Axis {
        var lo: Double
        var hi: Double
        var ticks: [Double] = []
        var labels: [String] = []
        /// The common factor of the labels ("1e6"), drawn at the axis's end, or nil.
        var offset: String?
    }

    static let text = 2, titleScale = 2, tickLength = 5, pad = 14
    static let ink = Color(hex: 0x000000), legendEdge = Color(hex: 0xCCCCCC)
    static var lineHeight: Int { BitmapFont.height(scale: text) }

    let width: Int, height: Int
    let title: String, xLabel: String, yLabel: String
    /// The plot area, inside the frame.
    let area: PixelRect
    let x: Axis, y: Axis
    let legend: [Entry]
    /// Where the legend box goes, and its rows to a column.
    let legendBox: PixelRect, legendRows: Int

    init(width: Int, height: Int, title: String, xLabel: String, yLabel: String, xs: [Double], ys: [Double],
         legend: [Entry], legendOutside: Bool, wholeX: Bool = false) throws(AnalysisError) {
        guard width >= 320, height >= 240 else {
            throw .input("a plot needs at least 320×240 pixels, got \(width)×\(height)")
        }
        (self.width, self.height, self.title, self.xLabel, self.yLabel) = (width, height, title, xLabel, yLabel)
        let pad = Self.pad, line = Self.lineHeight, cap = BitmapFont.capHeight * Self.text
        let top = title.isEmpty ? pad + 10 : pad + BitmapFont.height(scale: Self.titleScale) + pad
        let bottom = Self.tickLength + 6 + cap + (xLabel.isEmpty ? 0 : 12 + line) + pad + 4
        let plotHeight = height - top - bottom
        var yAxis = Self.axis(ys, length: plotHeight, spacing: 70, whole: false)
        let yLabelWidth = yAxis.labels.map { BitmapFont.width(of: $0, scale: Self.text) }.max() ?? 0
        let left = pad + (yLabel.isEmpty ? 0 : line + 10) + yLabelWidth + 6 + Self.tickLength
        // The legend: rows of a swatch and a name, in as many columns as the height needs.
        // The legend: rows of a swatch and a name (24 characters at most), in as many columns as
        // the height needs and two fifths of the width allow; a last row counts what does not fit.
        var entries = legend.map { entry in
            var entry = entry
            if entry.name.count > 24 { entry.name = String(entry.name.prefix(23)) + "…" }
            return entry
        }
        let rowHeight = line + 6, swatch = legend.first?.line == true ? 28 : 14
        func columnWidth() -> Int {
            swatch + 10 + (entries.map { BitmapFont.width(of: $0.name, scale: Self.text) }.max() ?? 0)
        }
        let maxRows = max(1, (plotHeight - 16) / rowHeight)
        let capacity = maxRows * max(1, min(3, (width * 2 / 5 - 4) / (columnWidth() + 16)))
        if entries.count > capacity {
            let more = entries.count - (capacity - 1)
            entries = Array(entries.prefix(capacity - 1)) + [Entry(name: "… \(more) more", color: .white)]
        }
        let columns = (entries.count + maxRows - 1) / maxRows
        let rows = columns == 0 ? 0 : (entries.count + columns - 1) / columns
        let legendSize = (w: columns == 0 ? 0 : 2 * 10 + columns * columnWidth() + (columns - 1) * 16,
                          h: 2 * 8 + rows * rowHeight - 6)
        let right = legendOutside && !entries.isEmpty ? 18 + legendSize.w + pad : pad + 16
        let plotWidth = width - left - right
        guard plotWidth >= 120, plotHeight >= 100 else {
            throw .input("a \(width)×\(height) plot leaves no room for its axes and legend")
        }
        area = PixelRect(x: left, y: top, width: plotWidth, height: plotHeight)
        // x ticks far enough apart for their labels.
        var spacing = 90.0
        var xAxis = Self.axis(xs, length: plotWidth, spacing: spacing, whole: wholeX)
        while spacing < Double(plotWidth),
              let widest = xAxis.labels.map({ BitmapFont.width(of: $0, scale: Self.text) }).max(),
              xAxis.ticks.count > 1, Double(widest + 40) * Double(xAxis.ticks.count - 1) > Double(plotWidth) * 0.9 {
            spacing *= 1.5
            xAxis = Self.axis(xs, length: plotWidth, spacing: spacing, whole: wholeX)
        }
        if yAxis.offset != nil, yAxis.labels.isEmpty { yAxis.offset = nil }
        (x, y) = (xAxis, yAxis)
        self.legend = entries
        legendRows = rows
        // Outside: right of the plot area at its top; inside: the corner with the fewest data points under it.
        if legendOutside {
            legendBox = PixelRect(x: left + plotWidth + 18, y: top, width: legendSize.w, height: legendSize.h)
        } else {
            let inset = 10
            let corners = [(left + plotWidth - inset - legendSize.w, top + inset), (left + inset, top + inset),
                           (left + inset, top + plotHeight - inset - legendSize.h),
                           (left + plotWidth - inset - legendSize.w, top + plotHeight - inset - legendSize.h)]
            let boxes = corners.map { PixelRect(x: $0.0, y: $0.1, width: legendSize.w, height: legendSize.h) }
            var best = boxes[0], fewest = Int.max
            let (xa, ya) = (xAxis, yAxis)
            for box in boxes {
                var count = 0
                for i in xs.indices {
                    let px = Self.map(xs[i], xa, Double(left), Double(plotWidth))
                    let py = Double(top + plotHeight) - Self.map(ys[i], ya, 0, Double(plotHeight))
                    if px >= Double(box.x - 6), px <= Double(box.x + box.width + 6), py >= Double(box.y - 6),
                       py <= Double(box.y + box.height + 6) { count += 1 }
                }
                if count < fewest { (best, fewest) = (box, count) }
            }
            legendBox = best
        }
    }

    /// The pixel column of data value `v`.
    func px(_ v: Double) -> Double { Self.map(v, x, Double(area.x), Double(area.width)) }
    /// The pixel row of data value `v`.
    func py(_ v: Double) -> Double { Double(area.y + area.height) - Self.map(v, y, 0, Double(area.height)) }

    static func map(_ v: Double, _ axis: Axis, _ origin: Double, _ length: Double) -> Double {
        origin + (v - axis.lo) / (axis.hi - axis.lo) * length
    }

    /// Draws the frame, ticks, labels, title and legend (after the data, over it).
    func draw(on canvas: inout Canvas) {
        let ink = Self.ink, s = Self.text, cap = BitmapFont.capHeight * s
        let right = area.x + area.width, bottom = area.y + area.height
        // Frame: one pixel outside the plot area on every side.
        canvas.fill(PixelRect(x: area.x - 1, y: area.y - 1, width: area.width + 2, height: 1), ink)
        canvas.fill(PixelRect(x: area.x - 1, y: bottom, width: area.width + 2, height: 1), ink)
        canvas.fill(PixelRect(x: area.x - 1, y: area.y - 1, width: 1, height: area.height + 2), ink)
        canvas.fill(PixelRect(x: right, y: area.y - 1, width: 1, height: area.height + 2), ink)
        for (v, label) in zip(x.ticks, x.labels) {
            let p = Int(px(v).rounded(.down))
            canvas.fill(PixelRect(x: p, y: bottom + 1, width: 1, height: Self.tickLength), ink)
            let w = BitmapFont.width(of: label, scale: s)
            canvas.text(label, x: p - w / 2, y: bottom + 1 + Self.tickLength + 6, ink, scale: s)
        }
        for (v, label) in zip(y.ticks, y.labels) {
            let p = Int(py(v).rounded(.down))
            canvas.fill(PixelRect(x: area.x - 1 - Self.tickLength, y: p, width: Self.tickLength, height: 1), ink)
            let w = BitmapFont.width(of: label, scale: s)
            canvas.text(label, x: area.x - 1 - Self.tickLength - 6 - w, y: p - cap / 2, ink, scale: s)
        }
        if let offset = y.offset { canvas.text(offset, x: area.x, y: area.y - 6 - cap, ink, scale: s) }
        if let offset = x.offset {
            canvas.text(offset, x: right - BitmapFont.width(of: offset, scale: s),
                        y: bottom + Self.tickLength + 12 + cap + 8, ink, scale: s)
        }
        if !xLabel.isEmpty {
            canvas.text(xLabel, x: area.x + area.width / 2 - BitmapFont.width(of: xLabel, scale: s) / 2,
                        y: bottom + 1 + Self.tickLength + 6 + cap + 12, ink, scale: s)
        }
        if !yLabel.isEmpty {
            canvas.text(yLabel, x: Self.pad, y: area.y + area.height / 2 - BitmapFont.width(of: yLabel, scale: s) / 2,
                        ink, scale: s, vertical: true)
        }
        if !title.isEmpty {
            let t = Self.titleScale, w = BitmapFont.width(of: title, scale: t) + 1
            let tx = max(4, min(area.x + area.width / 2 - w / 2, width - w - 4)), ty = Self.pad
            canvas.text(title, x: tx, y: ty, ink, scale: t)
            canvas.text(title, x: tx + 1, y: ty, ink, scale: t)  // bold: twice, a pixel apart
        }
        drawLegend(on: &canvas)
    }

    private func drawLegend(on canvas: inout Canvas) {
        guard !legend.isEmpty else { return }
        let box = legendBox, s = Self.text, rowHeight = Self.lineHeight + 6
        canvas.fill(box, .white, alpha: 0.85)
        canvas.fill(PixelRect(x: box.x, y: box.y, width: box.width, height: 1), Self.legendEdge)
        canvas.fill(PixelRect(x: box.x, y: box.y + box.height - 1, width: box.width, height: 1), Self.legendEdge)
        canvas.fill(PixelRect(x: box.x, y: box.y, width: 1, height: box.height), Self.legendEdge)
        canvas.fill(PixelRect(x: box.x + box.width - 1, y: box.y, width: 1, height: box.height), Self.legendEdge)
        let swatch = legend[0].line ? 28 : 14
        let nameWidth = legend.map { BitmapFont.width(of: $0.name, scale: s) }.max() ?? 0
        for (k, entry) in legend.enumerated() {
            let column = k / legendRows, row = k % legendRows
            let x0 = box.x + 10 + column * (swatch + 10 + nameWidth + 16), y0 = box.y + 8 + row * rowHeight
            let mid = Double(y0) + Double(BitmapFont.capHeight * s) / 2
            if entry.name.hasPrefix("…") {
            } else if entry.line {
                canvas.line(from: Double(x0), mid, to: Double(x0 + swatch), mid, entry.color, lineWidth: 2)
            } else {
                canvas.disc(Double(x0) + Double(swatch) / 2, mid, radius: 6, entry.color)
            }
            canvas.text(entry.name, x: x0 + swatch + 10, y: y0, Self.ink, scale: s)
        }
    }

    /// The view limits of `values` (their extent and 5 % each side) and ticks 1, 2 or 5 × 10^k
    /// apart, about `spacing` pixels apart over `length` pixels (whole numbers if `whole`).
    static func axis(_ values: [Double], length: Int, spacing: Double, whole: Bool) -> Axis {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo <= max(abs(lo), abs(hi)) * 1e-12 {
            let half = max(abs(lo) * 0.05, whole ? 1 : 0.5)
            (lo, hi) = (lo - half, hi + half)
        } else {
            let margin = (hi - lo) * 0.05
            (lo, hi) = (lo - margin, hi + margin)
        }
        var axis = Axis(lo: lo, hi: hi)
        let wanted = max(2, Double(length) / spacing)
        let raw = (hi - lo) / wanted
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        var step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.7 } ?? 10 * magnitude
        if whole { step = max(step, 1) }
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        guard first <= last, last - first < 1000 else { return axis }
        axis.ticks = stride(from: first, through: last, by: 1).map { $0 * step }
        // A common factor 10^e for labels of very large or very small numbers, as matplotlib's "1e6".
        let largest = axis.ticks.map(abs).max() ?? 0
        var exponent = 0
        if largest >= 1e5 || (largest > 0 && largest < 1e-3) { exponent = Int(log10(largest).rounded(.down)) }
        let factor = pow(10, Double(exponent))
        let decimals = max(0, Int((-log10(step / factor) - 1e-9).rounded(.up)))
        axis.labels = axis.ticks.map { format($0 / factor, decimals: decimals) }
        if exponent != 0 { axis.offset = "1e\(exponent)".replacingOccurrences(of: "-", with: "\u{2212}") }
        return axis
    }

    /// `v` with `decimals` digits after the point, a minus sign (−) when negative, never "−0".
    static func format(_ v: Double, decimals: Int) -> String {
        let scale = pow(10, Double(decimals))
        let units = Int64((abs(v) * scale).rounded())
        var digits = String(units)
        if decimals > 0 {
            if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        return (v < 0 && units != 0 ? "\u{2212}" : "") + digits
    }
}
