// Pooling kernels over one image plane [H, W] → [outH, outW]: max (recording the
// argmax) and average, forward and backward.
//
// The window geometry is a `ConvGeometry` (its `channels` is ignored: callers run one
// plane per call, many planes in parallel). Windows are clipped to the image; padded
// positions never win a max, and the average divides by kh·kw whatever the clipping
// (PyTorch's count_include_pad = true). Callers keep padding ≤ kernel/2, so every
// window holds at least one real pixel. Left out: dilation, ceil mode.

/// The input rows (or columns) that output index `o` sees: [o·S − P, o·S − P + k) ∩ [0, extent).
@inline(__always)
private func windowRange(_ o: Int, stride: Int, pad: Int, kernel: Int, extent: Int) -> Range<Int> {
    let start = o * stride - pad
    return max(0, start)..<min(extent, start + kernel)
}

/// Max pooling of one plane; `argmax[o]` receives the flat input index (ih·W + iw) of
/// output `o`'s maximum, the first one met in row-major order on ties.
public func maxPool2DForward(_ x: UnsafePointer<Float>, _ g: ConvGeometry,
                             _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
    let outW = g.outW, W = g.width
    for oh in 0..<g.outH {
        let hs = windowRange(oh, stride: g.strideH, pad: g.padH, kernel: g.kernelH, extent: g.height)
        for ow in 0..<outW {
            let ws = windowRange(ow, stride: g.strideW, pad: g.padW, kernel: g.kernelW, extent: W)
            var best = -Float.infinity, at = hs.lowerBound * W + ws.lowerBound
            for ih in hs {
                let row = x + ih * W
                for iw in ws where row[iw] > best {
                    best = row[iw]
                    at = ih * W + iw
                }
            }
            y[oh * outW + ow] = best
            argmax[oh * outW + ow] = Int32(at)
        }
    }
}

/// Routes each output gradient to its window's maximum: dx[argmax[o]] += dy[o].
/// `dx` is accumulated into (overlapping windows may share a maximum).
public func maxPool2DBackward(_ dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, outputs: Int,
                              _ dx: UnsafeMutablePointer<Float>) {
    for o in 0..<outputs { dx[Int(argmax[o])] += dy[o] }
}

/// Average pooling of one plane, dividing every window's sum by kh·kw.
public func avgPool2DForward(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ y: UnsafeMutablePointer<Float>) {
    let outW = g.outW, W = g.width
    let scale = 1 / Float(g.kernelH * g.kernelW)
    for oh in 0..<g.outH {
        let hs = windowRange(oh, stride: g.strideH, pad: g.padH, kernel: g.kernelH, extent: g.height)
        for ow in 0..<outW {
            let ws = windowRange(ow, stride: g.strideW, pad: g.padW, kernel: g.kernelW, extent: W)
            var s: Float = 0
            for ih in hs {
                let row = x + ih * W
                for iw in ws { s += row[iw] }
            }
            y[oh * outW + ow] = s * scale
        }
    }
}

/// Spreads each output gradient evenly over its window: dx[window] += dy[o] / (kh·kw).
/// `dx` is accumulated into.
public func avgPool2DBackward(_ dy: UnsafePointer<Float>, _ g: ConvGeometry, _ dx: UnsafeMutablePointer<Float>) {
    let outW = g.outW, W = g.width
    let scale = 1 / Float(g.kernelH * g.kernelW)
    for oh in 0..<g.outH {
        let hs = windowRange(oh, stride: g.strideH, pad: g.padH, kernel: g.kernelH, extent: g.height)
        for ow in 0..<outW {
            let ws = windowRange(ow, stride: g.strideW, pad: g.padW, kernel: g.kernelW, extent: W)
            let v = dy[oh * outW + ow] * scale
            for ih in hs {
                let row = dx + ih * W
                for iw in ws { row[iw] += v }
            }
        }
    }
}
