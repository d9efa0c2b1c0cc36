// im2col / col2im in the "wide" layout, for stride-1 convolutions without horizontal
// padding whose output is narrower than the input (LeNet's 5×5 on 14×14 → 10×10).
//
// Each output row gets W columns instead of outW: column (oh, ow) of tap (c, i, j)
// holds pixel (oh − P + i, ow + j) of channel c, which for ow ≥ outW is a junk value
// (the next pixels of the image). Then every tap's band of rows is one contiguous run
// of the image, copied with one memcpy instead of one short copy per row; the price is
// W/outW times the GEMM columns, whose junk outputs the caller drops. Rows that fall
// in vertical padding are zeros. Left out: strides, horizontal padding, dilation.

extension ConvGeometry {
    /// Whether the wide layout applies: stride 1, no horizontal padding, outW < W.
    public var allowsWideColumns: Bool {
        strideH == 1 && strideW == 1 && padW == 0 && outW < width
    }
}

/// Writes the wide columns of output rows `rows` of `image` ([C, H, W]) into `col`, a
/// [C·kh·kw, rows.count·W] block of a matrix whose rows are `ld` floats apart.
public func im2colWide(_ image: UnsafePointer<Float>, _ g: ConvGeometry, rows: Range<Int>,
                       _ col: UnsafeMutablePointer<Float>, ld: Int) {
    precondition(g.allowsWideColumns, "im2colWide: needs stride 1, no horizontal padding, outW < W")
    let W = g.width, H = g.height
    var row = col
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for ki in 0..<g.kernelH {
            let valid = g.validRows(rows, tap: ki)
            for kj in 0..<g.kernelW {
                row.update(repeating: 0, count: (valid.lowerBound - rows.lowerBound) * W)
                let span = g.span(rows, valid, tap: (ki, kj))
                let count = max(0, span.count)
                (row + span.dst).update(from: plane + span.src, count: count)
                // The last row's junk runs past the plane: zeros instead.
                let end = (valid.upperBound - rows.lowerBound) * W
                (row + span.dst + count).update(repeating: 0, count: end - span.dst - count)
                (row + end).update(repeating: 0, count: (rows.upperBound - valid.upperBound) * W)
                row += ld
            }
        }
    }
}

/// Adds wide columns (laid out as `im2colWide` writes them) back onto `image`; the
/// adjoint of `im2colWide` provided the junk columns of `col` are zero.
public func col2imWide(_ col: UnsafePointer<Float>, ld: Int, _ g: ConvGeometry, rows: Range<Int>,
                       _ image: UnsafeMutablePointer<Float>) {
    precondition(g.allowsWideColumns, "col2imWide: needs stride 1, no horizontal padding, outW < W")
    let W = g.width, H = g.height
    var row = col
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for ki in 0..<g.kernelH {
            let valid = g.validRows(rows, tap: ki)
            for kj in 0..<g.kernelW {
                let span = g.span(rows, valid, tap: (ki, kj))
                if span.count >= 256 {
                    BLAS.axpy(span.count, 1, row + span.dst, plane + span.src)
                } else if span.count > 0 {
                    addRun(plane + span.src, row + span.dst, span.count)
                }
                row += ld
            }
        }
    }
}
