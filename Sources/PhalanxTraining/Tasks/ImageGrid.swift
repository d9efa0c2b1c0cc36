// A PNG grid of images for people to look at: autoencoder reconstructions, GAN samples.
import Foundation
import PhalanxCore
import PhalanxData

/// Writes rows of [N, C, H, W] images (the first channel, back to pixel values) as one
/// grayscale PNG with 2-pixel gaps.
enum ImageGrid {
    /// `rows[r]` holds row r's images (normalised as the data were: `stats` undoes it;
    /// values are clamped to 0…255). `columns` images per row at most.
    static func write(_ rows: [Tensor], columns: Int, stats: NormalizationStats?, to path: String) throws {
        guard let first = rows.first, first.shape.count == 4 else { return }
        let channels = first.shape[1], h = first.shape[2], w = first.shape[3]
        let gap = 2, width = columns * (w + gap) + gap, height = rows.count * (h + gap) + gap
        var pixels = [UInt8](repeating: 32, count: width * height)
        for (r, t) in rows.enumerated() {
            for i in 0..<min(columns, t.shape[0]) {
                for yy in 0..<h {
                    for xx in 0..<w {
                        var v = t[((i * channels) * h + yy) * w + xx]
                        if let s = stats { v = s.pixelValue(v, channel: 0) }
                        pixels[(gap + r * (h + gap) + yy) * width + gap + i * (w + gap) + xx] = UInt8(max(0, min(255, v.rounded())))
                    }
                }
            }
        }
        try PNG.writeGrayscale(pixels, width: width, height: height, to: path)
    }

    /// `images` [N, C, H, W] in rows of `columns`.
    static func write(_ images: Tensor, columns: Int, stats: NormalizationStats?, to path: String) throws {
        let n = images.shape[0], per = images.count / max(n, 1)
        let rows = stride(from: 0, to: n, by: columns).map { start -> Tensor in
            let count = min(columns, n - start)
            let t = Tensor(shape: [count] + Array(images.shape.dropFirst()))
            t.data.update(from: images.data + start * per, count: count * per)
            return t
        }
        try write(rows, columns: columns, stats: stats, to: path)
    }
}
