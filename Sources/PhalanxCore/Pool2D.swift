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
    if g.kernelH == 2 && g.kernelW == 2 && g.strideH == 2 && g.strideW == 2 && g.padH == 0 && g.padW == 0 {
        maxPool2x2(x, W, g.outH, outW, y, argmax)
        return
    }
    for oh in 0..<g.outH {
        let hs = windowRange(oh, stride: g.strideH, pad: g.padH, kernel: g.kernelH, extent: g.height)
        for ow in 0..<outW {
            let ws = windowRange(ow, stride: g.strideW, pad: g.padW, kernel: g.kernelW, extent: W)
            var best = -Float.infinity, at = hs.lowerBound * W + ws.lowerBound
            for ih in hs {
                let row = x + ih * W
                for iw in ws {
                    // Branch-free update: random data makes a branch mispredict often.
                    let v = row[iw], better = v > best
                    best = better ? v : best
                    at = better ? ih * W + iw : at
                }
            }
            y[oh * outW + ow] = best
            argmax[oh * outW + ow] = Int32(at)
        }
    }
}

/// The common 2×2, stride-2, unpadded window (LeNet, VGG): four loads and three
/// branch-free comparisons per output; ties go to the first element, as in the
/// general path.
@inline(__always)
private func maxPool2x2(_ x: UnsafePointer<Float>, _ W: Int, _ outH: Int, _ outW: Int,
                        _ y: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>) {
    for oh in 0..<outH {
        let top = x + 2 * oh * W, bottom = top + W
        let base = Int32(2 * oh * W)
        for ow in 0..<outW {
            let i = 2 * ow
            let a = top[i], b = top[i + 1], c = bottom[i], d = bottom[i + 1]
            let ab = b > a, m1 = ab ? b : a, i1 = Int32(i) + (ab ? 1 : 0)
            let cd = d > c, m2 = cd ? d : c, i2 = Int32(W + i) + (cd ? 1 : 0)
            let lower = m2 > m1
            y[oh * outW + ow] = lower ? m2 : m1
            argmax[oh * outW + ow] = base + (lower ? i2 : i1)
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
