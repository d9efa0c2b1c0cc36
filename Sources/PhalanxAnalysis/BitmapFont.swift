// Raster drawing for the pictures of `phalanx analyze`: a hand-designed bitmap font and
// the RGB canvas it draws on (rectangles, anti-aliased lines and discs with alpha, text).
// Left out: curves other than lines and discs, proportional text, fonts other than this one.
import PhalanxData

/// A fixed-width bitmap font, designed here: each glyph is 5 × 9 pixels (caps and digits
/// 7 tall, descenders 2 below the baseline), advanced by 6, drawn at integer scales.
///
/// It covers printable ASCII (32 … 126) plus the minus sign −, the multiplication sign ×
/// and the ellipsis …; other characters draw as `?`.
public enum BitmapFont {
    /// Glyph width in font pixels.
    public static let glyphWidth = 5
    /// Glyph height in font pixels: 7 above and on the baseline, 2 of descender.
    public static let glyphHeight = 9
    /// Cap height in font pixels (rows 0 … 6; the baseline is under row 6).
    public static let capHeight = 7
    /// Horizontal advance from one glyph to the next, in font pixels.
    public static let advance = 6

    /// The width in pixels of `text` drawn at `scale` (no trailing gap).
    public static func width(of text: String, scale: Int = 1) -> Int {
        let n = text.count
        return n == 0 ? 0 : (n * advance - (advance - glyphWidth)) * scale
    }

    /// The height in pixels of a line of text at `scale`, descenders included.
    public static func height(scale: Int = 1) -> Int { glyphHeight * scale }

    /// The rows of `character`'s glyph, top to bottom, each `glyphWidth` bits (bit 4 = left).
    public static func glyph(_ character: Character) -> [UInt8] {
        glyphs[character] ?? glyphs["?"]!
    }

    /// The ink of `character` at `scale`: `(glyphWidth · scale) × (glyphHeight · scale)`
    /// coverages in 0 … 1, row-major. Plainly each font pixel is a square; `smooth` (for
    /// scale ≥ 2) doubles the glyph twice with the filling half of EPX (Johnston's Scale2x:
    /// a quarter of a blank pixel between two inked neighbours, with the other two blank,
    /// is inked, which fills the steps of diagonals; ink is never removed, so square
    /// corners stay square), then averages the 4× grid down to `scale` (anti-aliasing).
    public static func coverage(_ character: Character, scale: Int, smooth: Bool = true) -> [Float] {
        let rows = glyph(character)
        var grid = [Bool](repeating: false, count: glyphWidth * glyphHeight)
        for r in 0..<glyphHeight {
            for c in 0..<glyphWidth { grid[r * glyphWidth + c] = (rows[r] >> (glyphWidth - 1 - c)) & 1 == 1 }
        }
        var gw = glyphWidth, gh = glyphHeight
        let w = glyphWidth * scale, h = glyphHeight * scale
        guard smooth, scale >= 2 else {
            var out = [Float](repeating: 0, count: w * h)
            for v in 0..<h { for u in 0..<w where grid[(v / scale) * glyphWidth + u / scale] { out[v * w + u] = 1 } }
            return out
        }
        for _ in 0..<2 {
            var next = [Bool](repeating: false, count: 4 * gw * gh)
            func at(_ r: Int, _ c: Int) -> Bool { r >= 0 && r < gh && c >= 0 && c < gw && grid[r * gw + c] }
            for r in 0..<gh {
                for c in 0..<gw {
                    let p = grid[r * gw + c], a = at(r - 1, c), b = at(r, c + 1), l = at(r, c - 1), d = at(r + 1, c)
                    let o = 2 * r * 2 * gw + 2 * c
                    next[o] = p || (l && a && !d && !b)
                    next[o + 1] = p || (a && b && !l && !d)
                    next[o + 2 * gw] = p || (d && l && !b && !a)
                    next[o + 2 * gw + 1] = p || (b && d && !a && !l)
                }
            }
            (grid, gw, gh) = (next, 2 * gw, 2 * gh)
        }
        // Area-average the 4× grid onto the scale × grid.
        let ratio = 4 / Double(scale)
        var out = [Float](repeating: 0, count: w * h)
        for v in 0..<h {
            for u in 0..<w {
                let y0 = Double(v) * ratio, y1 = y0 + ratio, x0 = Double(u) * ratio, x1 = x0 + ratio
                var sum = 0.0
                for r in Int(y0)..<min(gh, Int(y1.rounded(.up))) {
                    let dy = min(y1, Double(r + 1)) - max(y0, Double(r))
                    for c in Int(x0)..<min(gw, Int(x1.rounded(.up))) where grid[r * gw + c] {
                        sum += dy * (min(x1, Double(c + 1)) - max(x0, Double(c)))
                    }
                }
                out[v * w + u] = Float(sum / (ratio * ratio))
            }
        }
        return out
    }

    /// The glyph sheet, twelve glyphs to a block: `#` is ink, `.` paper.
    static let sheet: [(characters: String, art: String)] = [
        (" !\"#$%&'()*+", """
        ..... ..#.. .#.#. .#.#. ..#.. ##... .##.. ..#.. ...#. .#... ..... .....
        ..... ..#.. .#.#. .#.#. .#### ##..# #..#. ..#.. ..#.. ..#.. ..#.. ..#..
        ..... ..#.. .#.#. ##### #.#.. ...#. #.#.. ..#.. .#... ...#. #.#.# ..#..
        ..... ..#.. ..... .#.#. .###. ..#.. .#... ..... .#... ...#. .###. #####
        ..... ..#.. ..... ##### ..#.# .#... #.#.# ..... .#... ...#. #.#.# ..#..
        ..... ..... ..... .#.#. ####. #..## #..#. ..... ..#.. ..#.. ..#.. ..#..
        ..... ..#.. ..... .#.#. ..#.. ...## .##.# ..... ...#. .#... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        """),
        (",-./01234567", """
        ..... ..... ..... ....# .###. ..#.. .###. .###. ...#. ##### ..##. #####
        ..... ..... ..... ....# #...# .##.. #...# #...# ..##. #.... .#... ....#
        ..... ..... ..... ...#. #...# #.#.. ....# ....# .#.#. ####. #.... ...#.
        ..... .###. ..... ..#.. #...# ..#.. ...#. ..##. #..#. ....# ####. ..#..
        ..... ..... ..... .#... #...# ..#.. ..#.. ....# ##### ....# #...# ..#..
        .##.. ..... .##.. #.... #...# ..#.. .#... #...# ...#. #...# #...# .#...
        .##.. ..... .##.. #.... .###. ##### ##### .###. ...#. .###. .###. .#...
        ..#.. ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        .#... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        """),
        ("89:;<=>?@ABC", """
        .###. .###. ..... ..... ..... ..... ..... .###. .###. ..#.. ####. .###.
        #...# #...# ..... ..... ....# ..... #.... #...# #...# .#.#. #...# #...#
        #...# #...# .##.. .##.. ..##. ##### .##.. ....# #.### #...# #...# #....
        .###. .#### .##.. .##.. ##... ..... ...## ...#. #.#.# #...# ####. #....
        #...# ....# ..... ..... ..##. ##### .##.. ..#.. #.##. ##### #...# #....
        #...# ...#. .##.. .##.. ....# ..... #.... ..... #.... #...# #...# #...#
        .###. .##.. .##.. .##.. ..... ..... ..... ..#.. .#### #...# ####. .###.
        ..... ..... ..... ..#.. ..... ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... .#... ..... ..... ..... ..... ..... ..... ..... .....
        """),
        ("DEFGHIJKLMNO", """
        ####. ##### ##### .###. #...# .###. ..### #...# #.... #...# #...# .###.
        #...# #.... #.... #...# #...# ..#.. ...#. #..#. #.... ##.## #...# #...#
        #...# #.... #.... #.... #...# ..#.. ...#. #.#.. #.... #.#.# ##..# #...#
        #...# ####. ####. #.### ##### ..#.. ...#. ##... #.... #.#.# #.#.# #...#
        #...# #.... #.... #...# #...# ..#.. ...#. #.#.. #.... #...# #..## #...#
        #...# #.... #.... #...# #...# ..#.. #..#. #..#. #.... #...# #...# #...#
        ####. ##### #.... .###. #...# .###. .##.. #...# ##### #...# #...# .###.
        ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        """),
        ("PQRSTUVWXYZ[", """
        ####. .###. ####. .###. ##### #...# #...# #...# #...# #...# ##### .###.
        #...# #...# #...# #...# ..#.. #...# #...# #...# #...# #...# ....# .#...
        #...# #...# #...# #.... ..#.. #...# #...# #...# .#.#. .#.#. ...#. .#...
        ####. #...# ####. .###. ..#.. #...# #...# #.#.# ..#.. ..#.. ..#.. .#...
        #.... #.#.# #.#.. ....# ..#.. #...# #...# #.#.# .#.#. ..#.. .#... .#...
        #.... #..#. #..#. #...# ..#.. #...# .#.#. #.#.# #...# ..#.. #.... .#...
        #.... .##.# #...# .###. ..#.. .###. ..#.. .#.#. #...# ..#.. ##### .###.
        ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
        """),
        ("\\]^_`abcdefg", """
        #.... .###. ..#.. ..... .#... ..... #.... ..... ....# ..... ..##. .....
        #.... ...#. .#.#. ..... ..#.. ..... #.... ..... ....# ..... .#... .....
        .#... ...#. #...# ..... ..... .###. #.##. .###. .##.# .###. ####. .####
        ..#.. ...#. ..... ..... ..... ....# ##..# #...# #..## #...# .#... #...#
        ...#. ...#. ..... ..... ..... .#### #...# #.... #...# ##### .#... #...#
        ....# ...#. ..... ..... ..... #...# #...# #...# #...# #.... .#... #...#
        ....# .###. ..... ..... ..... .#### ####. .###. .#### .###. .#... .####
        ..... ..... ..... ##### ..... ..... ..... ..... ..... ..... ..... ....#
        ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .###.
        """),
        ("hijklmnopqrs", """
        #.... ..#.. ...#. #.... .##.. ..... ..... ..... ..... ..... ..... .....
        #.... ..... ..... #.... ..#.. ..... ..... ..... ..... ..... ..... .....
        #.##. .##.. ..##. #..#. ..#.. ##.#. #.##. .###. ####. .#### #.##. .####
        ##..# ..#.. ...#. #.#.. ..#.. #.#.# ##..# #...# #...# #...# ##..# #....
        #...# ..#.. ...#. ##... ..#.. #.#.# #...# #...# #...# #...# #.... .###.
        #...# ..#.. ...#. #.#.. ..#.. #.#.# #...# #...# #...# #...# #.... ....#
        #...# .###. ...#. #..#. .###. #.#.# #...# .###. ####. .#### #.... ####.
        ..... ..... #..#. ..... ..... ..... ..... ..... #.... ....# ..... .....
        ..... ..... .##.. ..... ..... ..... ..... ..... #.... ....# ..... .....
        """),
        ("tuvwxyz{|}~−", """
        .#... ..... ..... ..... ..... ..... ..... ...## ..#.. ##... ..... .....
        .#... ..... ..... ..... ..... ..... ..... ..#.. ..#.. ..#.. ..... .....
        ####. #...# #...# #...# #...# #...# ##### ..#.. ..#.. ..#.. ..... .....
        .#... #...# #...# #...# .#.#. #...# ...#. .#... ..#.. ...#. .##.# #####
        .#... #...# #...# #.#.# ..#.. #...# ..#.. ..#.. ..#.. ..#.. #..#. .....
        .#..# #..## .#.#. #.#.# .#.#. #...# .#... ..#.. ..#.. ..#.. ..... .....
        ..##. .##.# ..#.. .#.#. #...# .#### ##### ...## ..#.. ##... ..... .....
        ..... ..... ..... ..... ..... ....# ..... ..... ..#.. ..... ..... .....
        ..... ..... ..... ..... ..... .###. ..... ..... ..... ..... ..... .....
        """),
        ("×…", """
        ..... .....
        #...# .....
        .#.#. .....
        ..#.. .....
        .#.#. .....
        #...# .....
        ..... #.#.#
        ..... .....
        ..... .....
        """),
    ]

    static let glyphs: [Character: [UInt8]] = {
        var table: [Character: [UInt8]] = [:]
        for (characters, art) in sheet {
            let rows = art.split(separator: "\n").map { $0.split(separator: " ") }
            precondition(rows.count == glyphHeight, "BitmapFont: \(characters) has \(rows.count) rows")
            for (k, character) in characters.enumerated() {
                table[character] = rows.map { row in
                    let cells = Array(row[k])
                    precondition(cells.count == glyphWidth, "BitmapFont: \(character) is \(cells.count) wide")
                    return cells.reduce(UInt8(0)) { $0 << 1 | ($1 == "#" ? 1 : 0) }
                }
            }
        }
        return table
    }()
}

/// An 8-bit RGB colour.
public struct Color: Sendable, Hashable {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }

    /// A colour written `0xRRGGBB`.
    public init(hex: UInt32) { self.init(UInt8(hex >> 16 & 0xFF), UInt8(hex >> 8 & 0xFF), UInt8(hex & 0xFF)) }

    public static let white = Color(255, 255, 255)
    public static let black = Color(0, 0, 0)
}

/// A rectangle of whole pixels: columns `x ..< x + width`, rows `y ..< y + height`.
public struct PixelRect: Sendable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        (self.x, self.y, self.width, self.height) = (x, y, width, height)
    }

    /// The rectangle's part inside `other` (possibly empty).
    public func intersection(_ other: PixelRect) -> PixelRect {
        let x0 = max(x, other.x), y0 = max(y, other.y)
        let x1 = min(x + width, other.x + other.width), y1 = min(y + height, other.y + other.height)
        return PixelRect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
}

/// An RGB raster, white to begin with, that draws rectangles, anti-aliased lines and discs
/// blended with an opacity (`alpha`, 0 … 1), and `BitmapFont` text; written out as PNG.
///
/// Coordinates: x to the right, y down; pixel (i, j) covers [i, i + 1) × [j, j + 1), so its
/// centre is (i + 0.5, j + 0.5). Drawing stays inside `clip` (the whole canvas by default).
public struct Canvas: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major R, G, B bytes.
    public private(set) var pixels: [UInt8]
    /// Where drawing lands; pixels outside it are left alone.
    public var clip: PixelRect

    /// A `width × height` canvas filled with `background`.
    public init(width: Int, height: Int, background: Color = .white) {
        precondition(width > 0 && height > 0, "Canvas: \(width)×\(height)")
        self.width = width
        self.height = height
        pixels = Array([[UInt8]](repeating: [background.r, background.g, background.b], count: width * height).joined())
        clip = PixelRect(x: 0, y: 0, width: width, height: height)
    }

    /// The colour of pixel (x, y).
    public subscript(x x: Int, y y: Int) -> Color {
        let k = 3 * (y * width + x)
        return Color(pixels[k], pixels[k + 1], pixels[k + 2])
    }

    /// Mixes `color` into pixel (x, y) with opacity `alpha` (ignored outside `clip`).
    public mutating func blend(x: Int, y: Int, _ color: Color, alpha: Double) {
        guard alpha > 0, x >= clip.x, x < clip.x + clip.width, y >= clip.y, y < clip.y + clip.height else { return }
        let k = 3 * (y * width + x), a = min(alpha, 1)
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) * (1 - a) + Double(new) * a).rounded()) }
        pixels[k] = mix(pixels[k], color.r)
        pixels[k + 1] = mix(pixels[k + 1], color.g)
        pixels[k + 2] = mix(pixels[k + 2], color.b)
    }

    /// Fills `rect` with `color` at opacity `alpha`.
    public mutating func fill(_ rect: PixelRect, _ color: Color, alpha: Double = 1) {
        let r = rect.intersection(clip)
        for y in r.y..<(r.y + r.height) { for x in r.x..<(r.x + r.width) { blend(x: x, y: y, color, alpha: alpha) } }
    }

    /// Draws the segment (x0, y0)–(x1, y1), `lineWidth` pixels wide with round caps,
    /// anti-aliased by each pixel's distance to the segment.
    public mutating func line(from x0: Double, _ y0: Double, to x1: Double, _ y1: Double, _ color: Color,
                              lineWidth: Double = 1, alpha: Double = 1) {
        let half = lineWidth / 2, reach = half + 1
        let box = PixelRect(x: Int((min(x0, x1) - reach).rounded(.down)), y: Int((min(y0, y1) - reach).rounded(.down)),
                            width: Int((abs(x1 - x0) + 2 * reach).rounded(.up)) + 1,
                            height: Int((abs(y1 - y0) + 2 * reach).rounded(.up)) + 1).intersection(clip)
        let dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy
        for y in box.y..<(box.y + box.height) {
            for x in box.x..<(box.x + box.width) {
                let px = Double(x) + 0.5 - x0, py = Double(y) + 0.5 - y0
                let t = length2 > 0 ? min(max((px * dx + py * dy) / length2, 0), 1) : 0
                let ex = px - t * dx, ey = py - t * dy
                let coverage = min(max(half + 0.5 - (ex * ex + ey * ey).squareRoot(), 0), 1)
                if coverage > 0 { blend(x: x, y: y, color, alpha: alpha * coverage) }
            }
        }
    }

    /// Draws a filled disc of `radius` pixels centred at (cx, cy), its rim anti-aliased.
    public mutating func disc(_ cx: Double, _ cy: Double, radius: Double, _ color: Color, alpha: Double = 1) {
        let x0 = Int((cx - radius - 1).rounded(.down)), y0 = Int((cy - radius - 1).rounded(.down))
        let side = Int((2 * radius + 2).rounded(.up)) + 1
        let box = PixelRect(x: x0, y: y0, width: side, height: side).intersection(clip)
        for y in box.y..<(box.y + box.height) {
            for x in box.x..<(box.x + box.width) {
                let ex = Double(x) + 0.5 - cx, ey = Double(y) + 0.5 - cy
                let coverage = min(max(radius + 0.5 - (ex * ex + ey * ey).squareRoot(), 0), 1)
                if coverage > 0 { blend(x: x, y: y, color, alpha: alpha * coverage) }
            }
        }
    }

    /// Draws `text` in `BitmapFont` with its top-left corner at (x, y), each font pixel a
    /// `scale × scale` square (diagonals rounded and edges anti-aliased when `smooth` and
    /// `scale ≥ 2`); `vertical` turns it a quarter counter-clockwise, reading upwards as a
    /// y-axis label, and then (x, y) is the top-left corner of its box.
    public mutating func text(_ text: String, x: Int, y: Int, _ color: Color, scale: Int = 1,
                              vertical: Bool = false, smooth: Bool = true) {
        let length = BitmapFont.width(of: text, scale: scale)
        let w = BitmapFont.glyphWidth * scale, h = BitmapFont.glyphHeight * scale
        for (k, character) in text.enumerated() where character != " " {
            let coverage = BitmapFont.coverage(character, scale: scale, smooth: smooth)
            for v in 0..<h {
                for u in 0..<w where coverage[v * w + u] > 0 {
                    let along = k * BitmapFont.advance * scale + u
                    let (px, py) = vertical ? (x + v, y + length - 1 - along) : (x + along, y + v)
                    blend(x: px, y: py, color, alpha: Double(coverage[v * w + u]))
                }
            }
        }
    }

    /// The canvas as a PNG file's bytes.
    public func png() throws(AnalysisError) -> [UInt8] {
        do { return try PNG.rgb(pixels, width: width, height: height) } catch { throw .input("PNG: \(error)") }
    }

    /// Writes the canvas as a PNG file at `path`.
    public func write(to path: String) throws(AnalysisError) {
        do { try PNG.writeRGB(pixels, width: width, height: height, to: path) } catch {
            throw .input("cannot write the plot \(path): \(error)")
        }
    }
}
