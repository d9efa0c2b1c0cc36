// Pixel normalisation with statistics fitted on the training set.
//
// Every method is the per-channel affine map x' = (x − shift[c]) · scale[c]; fitting
// finds shift and scale from the training images, and the same value, stored in a
// checkpoint, is applied to the validation and test images and to every batch.
// Statistics are summed in Double per image, then over images in a fixed order, so
// they do not depend on the thread count.
import PhalanxCore

/// How pixels are normalised.
public enum NormalizationMethod: String, Codable, Sendable, CaseIterable {
    /// Leave the pixels as they are.
    case none
    /// Divide by the largest value the file's element type can hold (255 for bytes),
    /// mapping to [0, 1].
    case scale
    /// Map the training set's per-channel minimum and maximum to 0 and 1.
    case minMax = "min_max"
    /// Subtract the training set's per-channel mean and divide by its standard
    /// deviation (population, over all pixels of the channel).
    case standardize
}

/// A fitted per-channel normalisation, `x' = (x − shift[c]) · scale[c]`.
public struct NormalizationStats: Codable, Equatable, Sendable {
    /// The method that produced these statistics.
    public var method: NormalizationMethod
    /// Subtracted from each channel (the mean, the minimum, or 0).
    public var shift: [Float]
    /// Multiplies each channel after the shift (1/std, 1/(max − min), or 1/255).
    public var scale: [Float]

    /// Statistics given explicitly; `shift` and `scale` have one value per channel.
    public init(method: NormalizationMethod, shift: [Float], scale: [Float]) {
        precondition(shift.count == scale.count, "NormalizationStats: \(shift.count) shifts, \(scale.count) scales")
        self.method = method
        self.shift = shift
        self.scale = scale
    }

    /// The number of channels these statistics apply to.
    public var channels: Int { shift.count }

    /// Fits `method` to `images` (`[N, C, ...]`, usually the training set). A channel
    /// with no spread (max = min or std = 0) gets scale 1 rather than a division by zero.
    public static func fit(_ method: NormalizationMethod, to images: Tensor,
                           maxValue: Float = 255) -> NormalizationStats {
        precondition(images.rank >= 2, "NormalizationStats.fit: images must be [N, C, ...], got \(images.shape)")
        let n = images.shape[0], c = images.shape[1]
        let plane = images.count / max(n * c, 1)
        switch method {
        case .none:
            return NormalizationStats(method: method, shift: Array(repeating: 0, count: c),
                                      scale: Array(repeating: 1, count: c))
        case .scale:
            return NormalizationStats(method: method, shift: Array(repeating: 0, count: c),
                                      scale: Array(repeating: 1 / maxValue, count: c))
        case .minMax:
            let lo = planeReduce(images, n, c, plane, initial: .infinity) { Swift.min($0, Double($1)) }
            let hi = planeReduce(images, n, c, plane, initial: -.infinity) { Swift.max($0, Double($1)) }
            var shift = [Float](), scale = [Float]()
            for ch in 0..<c {
                let low = (0..<n).map { lo[$0 * c + ch] }.min() ?? 0
                let high = (0..<n).map { hi[$0 * c + ch] }.max() ?? 1
                shift.append(Float(low))
                scale.append(high > low ? Float(1 / (high - low)) : 1)
            }
            return NormalizationStats(method: method, shift: shift, scale: scale)
        case .standardize:
            let count = Double(n * plane)
            let sums = planeReduce(images, n, c, plane, initial: 0) { $0 + Double($1) }
            let mean = (0..<c).map { ch in (0..<n).reduce(0.0) { $0 + sums[$1 * c + ch] } / max(count, 1) }
            // Second pass over deviations: accurate where Σx² − (Σx)²/n would cancel.
            let squares = planeReduce(images, n, c, plane, initial: 0, mean: mean) { $0 + Double($1) * Double($1) }
            var scale = [Float]()
            for ch in 0..<c {
                let variance = (0..<n).reduce(0.0) { $0 + squares[$1 * c + ch] } / max(count, 1)
                let std = variance.squareRoot()
                scale.append(std > 0 ? Float(1 / std) : 1)
            }
            return NormalizationStats(method: method, shift: mean.map { Float($0) }, scale: scale)
        }
    }

    /// Reduces every (image, channel) plane with `combine`, after subtracting the
    /// channel's `mean` if given; one result per plane, in parallel over images.
    private static func planeReduce(_ images: Tensor, _ n: Int, _ c: Int, _ plane: Int, initial: Double,
                                    mean: [Double]? = nil,
                                    _ combine: (Double, Float) -> Double) -> [Double] {
        var out = [Double](repeating: initial, count: n * c)
        let src = images.data
        out.withUnsafeMutableBufferPointer { results in
            let r = results.baseAddress!
            Parallel.forEach(n, grain: 256) { range in
                for i in range {
                    for ch in 0..<c {
                        let p = src + (i * c + ch) * plane
                        let m = Float(mean?[ch] ?? 0)
                        var acc = initial
                        for j in 0..<plane { acc = combine(acc, p[j] - m) }
                        r[i * c + ch] = acc
                    }
                }
            }
        }
        return out
    }

    /// Normalises `images` (`[N, C, H, W]` or one sample `[C, H, W]`) in place.
    public func apply(to images: Tensor) {
        precondition(images.rank == 4 || images.rank == 3,
                     "NormalizationStats.apply: images must be [N, C, H, W] or [C, H, W], got \(images.shape)")
        guard method != .none, images.count > 0 else { return }
        let c = channels
        let channelAxis = images.rank == 4 ? 1 : 0
        precondition(images.shape[channelAxis] == c,
                     "NormalizationStats.apply: \(c) channels fitted, images are \(images.shape)")
        let plane = images.shape[(channelAxis + 1)...].reduce(1, *)
        let planes = images.count / plane
        let data = images.data
        Parallel.forEach(planes, grain: max(1, (1 << 15) / max(plane, 1))) { range in
            for k in range {
                let shift = self.shift[k % c], scale = self.scale[k % c]
                let p = data + k * plane
                for j in 0..<plane { p[j] = (p[j] - shift) * scale }
            }
        }
    }

    /// The pixel value a normalised value `v` of channel `channel` came from (the inverse of `apply`).
    public func pixelValue(_ v: Float, channel: Int) -> Float {
        method == .none ? v : v / scale[channel] + shift[channel]
    }

    /// Normalises a data set's pixels in place.
    public func apply(to dataset: Dataset) { apply(to: dataset.images) }
}
