// How Conv2D cuts a batch into column tiles, and the per-thread scratch they use.
//
// A tile is a block of output positions whose im2col columns sit side by side in one
// matrix: either several whole samples (small images) or a band of output rows of one
// sample (large images), about `Conv2D.tileFloats` in all, so that it stays in the
// core's L2 cache and im2col / col2im move long runs. The GEMMs then take the tile in
// slices of `sliceColumns` columns, small enough (`Conv2D.gemmSliceLimit`) for
// OpenBLAS to use its unpacked small-matrix kernels. Each thread owns a `ConvScratch`
// with its tiles and partial parameter gradients, sized once and reused every step.
// Stride-1 convolutions without horizontal padding use the wide column layout
// (Im2col+Wide.swift): `pitch` = W columns per output row instead of outW.
import PhalanxCore

/// One forward/backward pass's geometry and tiling, derived from the input shape.
struct ConvPlan {
    /// Geometry of one sample, all input channels.
    let geometry: ConvGeometry
    let batch: Int
    let groups: Int
    /// Input and output channels of one group.
    let inPerGroup: Int, outPerGroup: Int
    /// Rows of one group's column matrix (inPerGroup·kh·kw) and of the whole one.
    let groupRows: Int, colRows: Int
    /// Output positions of one sample (outH·outW) and input positions (H·W).
    let pixels: Int, inputPixels: Int
    /// 1×1, stride 1, no padding: the input is its own column matrix.
    let pointwise: Bool
    /// Wide column layout: each output row has `pitch` = W columns, the last W − outW junk.
    let wide: Bool
    /// Columns per output row in a tile: W when `wide`, outW otherwise.
    let pitch: Int
    /// Whole samples per tile (> 1 only when a tile holds several samples).
    let samplesPerTile: Int
    /// Bands of output rows per sample (> 1 only when a sample is split).
    let bandsPerSample: Int
    /// The most columns a tile has.
    let maxTileColumns: Int
    /// Columns per GEMM call within a tile.
    let sliceColumns: Int

    init(layer: Conv2D, inputShape s: [Int]) {
        let g = ConvGeometry(channels: s[1], height: s[2], width: s[3],
                             kernelH: layer.kernelH, kernelW: layer.kernelW,
                             strideH: layer.strideH, strideW: layer.strideW,
                             padH: layer.padH, padW: layer.padW)
        geometry = g
        batch = s[0]
        groups = layer.groups
        inPerGroup = layer.inChannels / layer.groups
        outPerGroup = layer.outChannels / layer.groups
        groupRows = inPerGroup * g.kernelH * g.kernelW
        colRows = g.colRows
        pixels = g.colCols
        inputPixels = g.height * g.width
        pointwise = g.kernelH == 1 && g.kernelW == 1 && g.strideH == 1 && g.strideW == 1
            && g.padH == 0 && g.padW == 0
        // Wide columns pay W/outW in GEMM work to turn kh·kw·outH short copies per channel
        // into kh·kw long ones (LeNet's conv2: 1.4× the GEMM, im2col ~4× faster). The 2×
        // cut-off is a rough guess, not measured.
        wide = g.allowsWideColumns && g.width <= 2 * g.outW
        pitch = wide ? g.width : g.outW
        // Output rows whose columns (or, 1×1, whose transposed outputs) fill `tileFloats`.
        let rowsTarget = max(1, layer.tileFloats / max(1, max(colRows, layer.outChannels) * pitch))
        if pointwise && rowsTarget >= g.outH {
            // The input is the column matrix: samples cannot sit side by side.
            samplesPerTile = 1
            bandsPerSample = 1
        } else if rowsTarget >= g.outH {
            samplesPerTile = max(1, min(batch, rowsTarget / g.outH))
            bandsPerSample = 1
        } else {
            samplesPerTile = 1
            bandsPerSample = (g.outH + rowsTarget - 1) / rowsTarget
        }
        let bandRows = (g.outH + bandsPerSample - 1) / bandsPerSample
        maxTileColumns = (samplesPerTile > 1 ? samplesPerTile * g.outH : bandRows) * pitch
        // Slices narrower than 16 columns cost more in calls than the small kernels save.
        let slice = layer.gemmSliceLimit / max(1, outPerGroup * groupRows)
        sliceColumns = slice >= 16 ? slice : maxTileColumns
    }

    /// Calls `body(first, count)` for each GEMM slice of a tile of `columns` columns:
    /// as few slices as `sliceColumns` allows, of nearly equal widths.
    @inline(__always)
    func forEachSlice(_ columns: Int, _ body: (Int, Int) -> Void) {
        let slices = (columns + sliceColumns - 1) / sliceColumns
        for i in 0..<slices {
            let lo = columns * i / slices, hi = columns * (i + 1) / slices
            body(lo, hi - lo)
        }
    }

    /// Calls `body(samples, rows)` for each tile covering `samples`, in order; a tile
    /// spans several samples with all rows, or one sample with a band of rows.
    @inline(__always)
    func forEachTile(in samples: Range<Int>, _ body: (Range<Int>, Range<Int>) -> Void) {
        let outH = geometry.outH
        if samplesPerTile > 1 {
            var n = samples.lowerBound
            while n < samples.upperBound {
                let end = min(samples.upperBound, n + samplesPerTile)
                body(n..<end, 0..<outH)
                n = end
            }
        } else {
            for n in samples {
                for b in 0..<bandsPerSample {
                    body(n..<(n + 1), (outH * b / bandsPerSample)..<(outH * (b + 1) / bandsPerSample))
                }
            }
        }
    }
}

/// One thread's reusable buffers for Conv2D.
final class ConvScratch {
    /// im2col of the current tile [colRows, tileColumns].
    var columns: Tensor?
    /// dLoss/dColumns of the current tile.
    var columnGradient: Tensor?
    /// The tile's outputs, or output gradients, transposed: [tileColumns, outChannels].
    var transposed: Tensor?
    /// Output gradients of a tile gathered as [outChannels, tileColumns] when they cannot
    /// be read in place (several samples, or wide columns).
    var gathered: Tensor?
    /// This thread's share of dLoss/dWeight, transposed per group
    /// ([groups][inPerGroup·kh·kw][outPerGroup]), and of dLoss/dBias.
    var weightGradientT: Tensor?
    var biasGradient: Tensor?
}

extension Conv2D {
    /// Makes sure there is scratch for every thread, sized for `plan`; allocates only
    /// when a buffer is too small.
    func prepareScratch(_ plan: ConvPlan, backward: Bool) {
        while scratch.count < Parallel.threads { scratch.append(ConvScratch()) }
        let cols = plan.maxTileColumns
        for s in scratch {
            if !plan.pointwise {
                _ = Tensor.reuse(&s.columns, shape: [plan.colRows, cols])
                if backward && needsInputGradient {
                    _ = Tensor.reuse(&s.columnGradient, shape: [plan.colRows, cols])
                }
            }
            _ = Tensor.reuse(&s.transposed, shape: [cols, outChannels])
            if backward && needsInputGradient && (plan.samplesPerTile > 1 || plan.wide) {
                _ = Tensor.reuse(&s.gathered, shape: [outChannels, cols])
            }
            if backward {
                Tensor.reuse(&s.weightGradientT, shape: [weight.count]).zero()
                Tensor.reuse(&s.biasGradient, shape: [outChannels]).zero()
            }
        }
    }
}

/// Σ p[0..<n], eight lanes at a time.
@inline(__always)
func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var a = SIMD8<Float>(), b = SIMD8<Float>()
    var i = 0
    while i + 16 <= n {
        a += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        b += UnsafeRawPointer(p + i + 8).loadUnaligned(as: SIMD8<Float>.self)
        i += 16
    }
    var s = (a + b).sum()
    while i < n { s += p[i]; i += 1 }
    return s
}
