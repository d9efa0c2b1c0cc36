// A grid of images with two caption lines each (the predicted class in red, the true one
// in grey under it): the misclassified test examples of `phalanx report` and of the
// TensorBoard event file. Drawn on the `Canvas` of the analysis pictures, in its font.
// Left out: colour maps, more than the first three channels.
import PhalanxAnalysis
import PhalanxCore

/// Draws labelled examples: each image scaled up by a whole factor, its captions under it.
public enum LabelledImageGrid {
    /// One cell: sample `index` of the images, and its two captions.
    public struct Item: Sendable, Equatable {
        public var index: Int
        public var predicted: String
        public var actual: String

        public init(index: Int, predicted: String, actual: String) {
            (self.index, self.predicted, self.actual) = (index, predicted, actual)
        }
    }

    static let predictedInk = Color(hex: 0xD62728), actualInk = Color(hex: 0x444444)
    static let textScale = 2, pad = 8

    /// Draws `items` of `images` ([N, C, H, W] raw pixel values 0 … 255, one channel grey,
    /// three RGB) in rows of `columns`, under a header line saying what the colours mean.
    /// Images are scaled up to about 112 pixels on their longer side; cells are as wide as
    /// the longest caption, up to 16 characters, and longer captions are cut with "…". Nil
    /// when there is nothing to draw.
    public static func render(images: Tensor, items: [Item], columns: Int = 8,
                              header: String = "red: predicted, grey: true class") -> Canvas? {
        guard images.rank == 4, !items.isEmpty, columns > 0 else { return nil }
        let channels = images.shape[1], h = images.shape[2], w = images.shape[3], n = images.shape[0]
        let items = items.filter { $0.index >= 0 && $0.index < n }
        guard !items.isEmpty, h > 0, w > 0 else { return nil }
        let zoom = max(1, 112 / max(h, w)), s = textScale
        let line = BitmapFont.height(scale: s) + 4
        // Wide enough for the longest caption (up to 16 characters; longer ones are cut).
        let longest = min(16, items.map { max($0.predicted.count, $0.actual.count) }.max() ?? 0)
        let cellWidth = max(w * zoom, longest * BitmapFont.advance * s) + pad
        let cellHeight = h * zoom + 2 * line + pad
        let cols = min(columns, items.count), rows = (items.count + cols - 1) / cols
        let top = pad + line + 4
        var canvas = Canvas(width: cols * cellWidth + pad, height: top + rows * cellHeight)
        canvas.text(header, x: pad, y: pad, actualInk, scale: s)
        let plane = h * w, fit = (cellWidth - pad) / (BitmapFont.advance * s)
        func cut(_ text: String) -> String { text.count <= fit ? text : String(text.prefix(max(1, fit - 1))) + "…" }
        for (k, item) in items.enumerated() {
            let x0 = pad + (k % cols) * cellWidth, y0 = top + (k / cols) * cellHeight
            let ix = x0 + (cellWidth - pad - w * zoom) / 2
            let base = images.data + item.index * channels * plane
            for y in 0..<h {
                for x in 0..<w {
                    func value(_ c: Int) -> UInt8 { UInt8(max(0, min(255, base[c * plane + y * w + x].rounded()))) }
                    let color = channels >= 3 ? Color(value(0), value(1), value(2)) : Color(value(0), value(0), value(0))
                    canvas.fill(PixelRect(x: ix + x * zoom, y: y0 + y * zoom, width: zoom, height: zoom), color)
                }
            }
            let ty = y0 + h * zoom + 4
            canvas.text(cut(item.predicted), x: x0, y: ty, predictedInk, scale: s)
            canvas.text(cut(item.actual), x: x0, y: ty + line, actualInk, scale: s)
        }
        return canvas
    }
}
