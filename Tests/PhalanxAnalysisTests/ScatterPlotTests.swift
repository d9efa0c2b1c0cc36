import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct ScatterPlotTests {
    /// |a − b| ≤ tolerance in every channel.
    func near(_ a: Color, _ b: Color, _ tolerance: Int = 2) -> Bool {
        [(a.r, b.r), (a.g, b.g), (a.b, b.b)].allSatisfy { abs(Int($0.0) - Int($0.1)) <= tolerance }
    }

    /// `c` at opacity `alpha` over white.
    func overWhite(_ c: Color, _ alpha: Double) -> Color {
        func mix(_ v: UInt8) -> UInt8 { UInt8((Double(v) * alpha + 255 * (1 - alpha)).rounded()) }
        return Color(mix(c.r), mix(c.g), mix(c.b))
    }

    @Test func fontCoversPrintableASCIIWithDistinctGlyphs() {
        var seen: [[UInt8]: Character] = [:]
        for code in 32...126 {
            let c = Character(Unicode.Scalar(UInt8(code)))
            let glyph = BitmapFont.glyphs[c]
            #expect(glyph?.count == BitmapFont.glyphHeight, "glyph of \(c)")
            guard let glyph else { continue }
            if let other = seen[glyph] { #expect(Set([other, c]) == ["0", "O"], "\(other) and \(c) look alike") }
            seen[glyph] = c
        }
        #expect(BitmapFont.glyph("A") == [0b00100, 0b01010, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0, 0])
        #expect(BitmapFont.glyph("é") == BitmapFont.glyph("?"))
    }

    @Test func measuresAndDrawsText() {
        // 11 glyphs advanced by 6, less the last gap, at scale 2: (66 − 1) · 2.
        #expect(BitmapFont.width(of: "T-shirt/top", scale: 2) == 130)
        #expect(BitmapFont.width(of: "", scale: 3) == 0 && BitmapFont.height(scale: 3) == 27)
        var canvas = Canvas(width: 40, height: 30)
        canvas.text("L", x: 3, y: 2, .black, scale: 2, smooth: false)
        // "L": a bar 7 font pixels tall in column 0, a foot 5 wide in row 6 → 11 pixels, 44 at scale 2.
        var ink = 0
        for y in 0..<30 { for x in 0..<40 where canvas[x: x, y: y] == .black { ink += 1 } }
        #expect(ink == 44)
        #expect(canvas[x: 3, y: 2] == .black && canvas[x: 4, y: 15] == .black && canvas[x: 12, y: 15] == .black)
        #expect(canvas[x: 5, y: 2] == .white && canvas[x: 13, y: 16] == .white)
        var up = Canvas(width: 30, height: 40)
        up.text("L", x: 2, y: 3, .black, scale: 1, vertical: true, smooth: false)
        // Turned a quarter left: the bar lies along the bottom row of the box, the foot rises on its right.
        #expect(up[x: 2, y: 7] == .black && up[x: 8, y: 7] == .black && up[x: 8, y: 3] == .black)
        #expect(up[x: 2, y: 3] == .white)
    }

    /// Smoothing only adds ink, in the steps of diagonals: "/" gains some, "|" (no diagonal) none.
    @Test func smoothingFillsDiagonalsAndKeepsInk() {
        for scale in [2, 3] {
            let plain = BitmapFont.coverage("/", scale: scale, smooth: false)
            let smooth = BitmapFont.coverage("/", scale: scale)
            #expect(plain.count == 45 * scale * scale && smooth.count == plain.count)
            #expect(zip(plain, smooth).allSatisfy { $0.1 >= $0.0 - 1e-6 && $0.1 <= 1 + 1e-6 }, "scale \(scale)")
            #expect(smooth.reduce(0, +) > plain.reduce(0, +) + 1, "scale \(scale)")
            #expect(BitmapFont.coverage("|", scale: scale) == BitmapFont.coverage("|", scale: scale, smooth: false))
        }
        // Plain: "/" is 7 font pixels (one a row, rows 0 … 6), each scale² screen pixels.
        #expect(BitmapFont.coverage("/", scale: 2, smooth: false).reduce(0, +) == 28)
    }

    @Test func ticksAreOneTwoOrFiveTimesAPowerOfTen() {
        let a = PlotAxes.axis([0, 10], length: 600, spacing: 90, whole: false)
        #expect(abs(a.lo + 0.5) < 1e-12 && abs(a.hi - 10.5) < 1e-12)
        #expect(a.ticks == [0, 2, 4, 6, 8, 10] && a.labels == ["0", "2", "4", "6", "8", "10"] && a.offset == nil)
        let b = PlotAxes.axis([-0.31, 0.06], length: 1200, spacing: 90, whole: false)
        #expect(b.labels == ["−0.30", "−0.25", "−0.20", "−0.15", "−0.10", "−0.05", "0.00", "0.05"])  // U+2212
        let e = PlotAxes.axis([-0.31, 0.06], length: 400, spacing: 90, whole: false)
        #expect(e.labels == ["−0.3", "−0.2", "−0.1", "0.0"])
        let c = PlotAxes.axis([0, 2e6], length: 600, spacing: 90, whole: false)
        #expect(c.labels == ["0.0", "0.5", "1.0", "1.5", "2.0"] && c.offset == "1e6")
        let d = PlotAxes.axis([1, 2, 3], length: 600, spacing: 20, whole: true)
        #expect(d.ticks == [1, 2, 3])
        #expect(PlotAxes.format(-0.0004, decimals: 2) == "0.00" && PlotAxes.format(3.14159, decimals: 3) == "3.142")
    }

    /// Two points of two labels: each shows its palette colour where its data coordinates map to.
    @Test func twoPointsLandAtTheirPixelsInTheirColours() throws {
        let points = try Matrix(rows: 2, cols: 2, values: [0, 0, 4, 2])
        let canvas = try ScatterPlot.render(points: points, labels: [0, 1], classNames: ["zero", "one"], title: "Two")
        #expect(canvas.width == 900 && canvas.height == 760)
        let layout = try PlotAxes(width: 900, height: 760, title: "Two", xLabel: "", yLabel: "", xs: [0, 4], ys: [0, 2],
                                  legend: [.init(name: "zero", color: .black), .init(name: "one", color: .black)],
                                  legendOutside: true)
        let area = layout.area
        #expect(area.x > 20 && area.y > 20 && area.x + area.width < 800 && area.y + area.height < 730, "\(area)")
        // Data extent and 5 % margins: x in [−0.2, 4.2], y in [−0.1, 2.1]; y up.
        func pixel(_ x: Double, _ y: Double) -> (Int, Int) {
            (Int(Double(area.x) + (x + 0.2) / 4.4 * Double(area.width)),
             Int(Double(area.y + area.height) - (y + 0.1) / 2.2 * Double(area.height)))
        }
        let (x0, y0) = pixel(0, 0), (x1, y1) = pixel(4, 2)
        let blue = ScatterPlot.palette[0], orange = ScatterPlot.palette[1]
        #expect(near(canvas[x: x0, y: y0], overWhite(blue, 0.9)), "\(canvas[x: x0, y: y0])")
        #expect(near(canvas[x: x1, y: y1], overWhite(orange, 0.9)), "\(canvas[x: x1, y: y1])")
        // Between them, white; the frame is black.
        let (xm, ym) = pixel(2, 1)
        #expect(canvas[x: xm, y: ym] == .white)
        #expect(canvas[x: area.x - 1, y: ym] == .black && canvas[x: xm, y: area.y + area.height] == .black)
        // The legend swatches, right of the plot area, in the full colours.
        var swatches = Set<Color>()
        for y in 0..<760 { for x in (area.x + area.width + 2)..<900 { swatches.insert(canvas[x: x, y: y]) } }
        #expect(swatches.contains(blue) && swatches.contains(orange))
        #expect(!swatches.contains(ScatterPlot.palette[2]))
    }

    @Test func withoutLabelsOneColourAndNoLegend() throws {
        let points = try Matrix(rows: 3, cols: 2, values: [0, 0, 1, 1, 2, 0])
        let canvas = try ScatterPlot.render(points: points, title: "")
        var colours = Set<Color>()
        for y in 0..<760 { for x in 0..<900 { colours.insert(canvas[x: x, y: y]) } }
        #expect(!colours.contains(ScatterPlot.palette[1]))
        // Nothing but white to the right of the plot area (the frame ends 30 pixels from the edge).
        for y in 0..<760 { for x in 880..<900 { #expect(canvas[x: x, y: y] == .white) } }
    }

    @Test func refusesEmptyOrNonFiniteInput() throws {
        #expect(throws: AnalysisError.self) { try ScatterPlot.render(points: Matrix(rows: 0, cols: 2), title: "t") }
        let bad = try Matrix(rows: 2, cols: 2, values: [0, 0, .nan, 1])
        let error = try #require(throws: AnalysisError.self) { try ScatterPlot.render(points: bad, title: "t") }
        #expect(error.description.contains("sample 1"))
        let three = try Matrix(rows: 1, cols: 3, values: [0, 0, 0])
        #expect(throws: AnalysisError.self) { try ScatterPlot.render(points: three, title: "t") }
        let two = try Matrix(rows: 2, cols: 2, values: [0, 0, 1, 1])
        #expect(throws: AnalysisError.self) { try ScatterPlot.render(points: two, labels: [0], title: "t") }
        #expect(throws: AnalysisError.self) { try ScatterPlot.render(points: two, title: "t", width: 100, height: 80) }
        #expect(throws: AnalysisError.self) { try LinePlot.render(series: [], title: "t") }
        #expect(throws: AnalysisError.self) { try LinePlot.render(series: [("a", [], [])], title: "t") }
        #expect(throws: AnalysisError.self) { try LinePlot.render(series: [("a", [0, 1], [1, .infinity])], title: "t") }
        #expect(throws: AnalysisError.self) { try LinePlot.render(series: [("a", [0, 1], [1])], title: "t") }
    }

    /// Two curves: their markers at the data points in the first two palette colours.
    @Test func lineCurvesLandAtTheirPixels() throws {
        let x = (0...10).map(Double.init)
        let series = [(name: "steep", x: x, y: x), (name: "flat", x: x, y: x.map { $0 / 2 })]
        let canvas = try LinePlot.render(series: series, title: "Curves", xLabel: "iteration", yLabel: "value")
        let layout = try PlotAxes(width: 900, height: 600, title: "Curves", xLabel: "iteration", yLabel: "value",
                                  xs: x + x, ys: x + x.map { $0 / 2 },
                                  legend: series.map { .init(name: $0.name, color: .black, line: true) },
                                  legendOutside: false, wholeX: true)
        let area = layout.area
        func pixel(_ u: Double, _ v: Double) -> (Int, Int) {
            (Int(Double(area.x) + (u + 0.5) / 11 * Double(area.width)),
             Int(Double(area.y + area.height) - (v + 0.5) / 11 * Double(area.height)))
        }
        let (ax, ay) = pixel(8, 8), (bx, by) = pixel(8, 4)
        #expect(near(canvas[x: ax, y: ay], ScatterPlot.palette[0], 1), "\(canvas[x: ax, y: ay])")
        #expect(near(canvas[x: bx, y: by], ScatterPlot.palette[1], 1), "\(canvas[x: bx, y: by])")
        #expect(layout.x.ticks.allSatisfy { $0 == $0.rounded() })
        // The legend takes the empty upper-left corner.
        #expect(layout.legendBox.x < area.x + 20 && layout.legendBox.y < area.y + 20)
    }
}
