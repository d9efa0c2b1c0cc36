// im2col / col2im for 2-D convolution (Caffe's layout), one image (or a band of its
// output rows) at a time.
//
// For an image [C, H, W] and a kernel kh×kw with stride and zero padding, the column
// matrix has C·kh·kw rows and outH·outW columns: row (c, i, j) holds the input pixel
// each output position sees through kernel tap (i, j) of channel c, 0 where the tap
// falls in the padding. Convolution is then one GEMM. The row-band variants write
// a block of a wider matrix (`ld`), so that several images or parts of one image can
// share a GEMM. Rows of the column matrix are short (outW floats), so the copies are
// inline SIMD runs rather than memcpy calls. Dilation is left out.

/// Geometry of a 2-D convolution or pooling window over one image.
public struct ConvGeometry: Equatable, Sendable {
    public var channels: Int, height: Int, width: Int
    public var kernelH: Int, kernelW: Int
    public var strideH: Int, strideW: Int
    public var padH: Int, padW: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                strideH: Int = 1, strideW: Int = 1, padH: Int = 0, padW: Int = 0) {
        self.channels = channels; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
    }

    /// Output height `(H − kh + 2P)/S + 1` (floor).
    public var outH: Int { (height + 2 * padH - kernelH) / strideH + 1 }
    /// Output width `(W − kw + 2P)/S + 1` (floor).
    public var outW: Int { (width + 2 * padW - kernelW) / strideW + 1 }
    /// Rows of the column matrix: C·kh·kw.
    public var colRows: Int { channels * kernelH * kernelW }
    /// Columns of the column matrix: outH·outW.
    public var colCols: Int { outH * outW }

    /// The output columns `ow` whose input column `ow·S − P + tap` lies inside the image.
    @inline(__always)
    func validColumns(tap kj: Int) -> (Int, Int) {
        let lo = max(0, (padW - kj + strideW - 1) / strideW)
        let top = width - 1 + padW - kj
        let hi = top < 0 ? 0 : min(outW, top / strideW + 1)
        return (lo, max(lo, hi))
    }

    /// Checks that the window fits; the error names `layer`.
    public func validate(kind layer: String) throws(ShapeError) {
        if kernelH <= 0 || kernelW <= 0 { throw ShapeError(kind: layer, "kernel \(kernelH)×\(kernelW) must be positive") }
        if strideH <= 0 || strideW <= 0 { throw ShapeError(kind: layer, "stride \(strideH)×\(strideW) must be positive") }
        if padH < 0 || padW < 0 { throw ShapeError(kind: layer, "padding \(padH)×\(padW) must not be negative") }
        if height + 2 * padH < kernelH || width + 2 * padW < kernelW {
            throw ShapeError(kind: layer,
                "kernel \(kernelH)×\(kernelW) does not fit input \(height)×\(width) with padding \(padH)×\(padW): output size (W − F + 2P)/S + 1 would be below 1")
        }
    }
}

/// Writes the column matrix of `image` ([C, H, W]) into `col` ([C·kh·kw, outH·outW]).
public func im2col(_ image: UnsafePointer<Float>, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>) {
    im2col(image, g, rows: 0..<g.outH, col, ld: g.colCols)
}

/// Writes the columns of output rows `rows` of `image` ([C, H, W]) into `col`, a
/// [C·kh·kw, rows.count·outW] block of a matrix whose rows are `ld` floats apart.
/// Several images' blocks side by side make one wide GEMM operand.
public func im2col(_ image: UnsafePointer<Float>, _ g: ConvGeometry, rows: Range<Int>,
                   _ col: UnsafeMutablePointer<Float>, ld: Int) {
    let outW = g.outW, H = g.height, W = g.width, sW = g.strideW
    let contiguous = g.bandIsContiguous
    var row = col
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                // Output columns whose input column iw = ow·S − P + kj lies in [0, W).
                let (owLo, owHi) = g.validColumns(tap: kj)
                if contiguous {
                    // One copy for the whole band, then zeros where the tap reads padding.
                    let valid = g.validRows(rows, tap: ki)
                    row.update(repeating: 0, count: (valid.lowerBound - rows.lowerBound) * outW)
                    let span = g.span(rows, valid, tap: (ki, kj))
                    if span.count > 0 { (row + span.dst).update(from: plane + span.src, count: span.count) }
                    if owLo > 0 || owHi < outW {
                        for oh in valid {
                            let d = row + (oh - rows.lowerBound) * outW
                            for ow in 0..<owLo { d[ow] = 0 }
                            for ow in owHi..<outW { d[ow] = 0 }
                        }
                    }
                    (row + (valid.upperBound - rows.lowerBound) * outW)
                        .update(repeating: 0, count: (rows.upperBound - valid.upperBound) * outW)
                    row += ld
                    continue
                }
                var dst = row
                for oh in rows {
                    let ih = oh * g.strideH - g.padH + ki
                    defer { dst += outW }
                    if ih < 0 || ih >= H || owHi <= owLo {
                        zeroRun(dst, outW)
                        continue
                    }
                    let src = plane + ih * W
                    if owLo > 0 { zeroRun(dst, owLo) }
                    if sW == 1 {
                        copyRun(dst + owLo, src + (owLo - g.padW + kj), owHi - owLo)
                    } else {
                        var iw = owLo * sW - g.padW + kj
                        for ow in owLo..<owHi {
                            dst[ow] = src[iw]
                            iw += sW
                        }
                    }
                    if owHi < outW { zeroRun(dst + owHi, outW - owHi) }
                }
                row += ld
            }
        }
    }
}

/// Adds the column matrix `col` back onto `image` ([C, H, W]); the adjoint of `im2col`.
/// `image` is accumulated into, not overwritten.
public func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, _ image: UnsafeMutablePointer<Float>) {
    col2im(UnsafeMutablePointer(mutating: col), ld: g.colCols, g, rows: 0..<g.outH, image, mayOverwrite: false)
}

/// Adds the columns of output rows `rows` (a block laid out as `im2col(_:_:rows:_:ld:)`
/// writes it) back onto `image` ([C, H, W]); the adjoint of that call.
/// With `mayOverwrite`, the entries of taps that read padding (gradients of constants)
/// may be set to zero in `col`, which lets a stride-1 band be added in one pass.
public func col2im(_ col: UnsafeMutablePointer<Float>, ld: Int, _ g: ConvGeometry, rows: Range<Int>,
                   _ image: UnsafeMutablePointer<Float>, mayOverwrite: Bool = true) {
    let outW = g.outW, H = g.height, W = g.width, sW = g.strideW
    let contiguous = mayOverwrite && g.bandIsContiguous
    var row = col
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                defer { row += ld }
                let (owLo, owHi) = g.validColumns(tap: kj)
                if owHi <= owLo { continue }
                if contiguous {
                    let valid = g.validRows(rows, tap: ki)
                    if owLo > 0 || owHi < outW {
                        for oh in valid {
                            let d = row + (oh - rows.lowerBound) * outW
                            for ow in 0..<owLo { d[ow] = 0 }
                            for ow in owHi..<outW { d[ow] = 0 }
                        }
                    }
                    let span = g.span(rows, valid, tap: (ki, kj))
                    if span.count >= 256 {
                        BLAS.axpy(span.count, 1, row + span.dst, plane + span.src)
                    } else if span.count > 0 {
                        addRun(plane + span.src, row + span.dst, span.count)
                    }
                    continue
                }
                var src = row
                for oh in rows {
                    let ih = oh * g.strideH - g.padH + ki
                    defer { src += outW }
                    if ih < 0 || ih >= H { continue }
                    let dst = plane + ih * W + (owLo * sW - g.padW + kj)
                    if sW == 1 {
                        addRun(dst, src + owLo, owHi - owLo)
                    } else {
                        let s = src + owLo
                        for i in 0..<(owHi - owLo) { dst[i * sW] += s[i] }
                    }
                }
            }
        }
    }
}

extension ConvGeometry {
    /// Stride 1 and outW = W ("same" width): for a fixed tap, output row oh reads input
    /// row oh − P + ki at one constant offset, so a band of rows is one contiguous run
    /// of the image (wrapping across rows where the tap reads padding).
    var bandIsContiguous: Bool { strideH == 1 && strideW == 1 && outW == width }

    /// The output rows of `rows` whose input row for tap row `ki` lies inside the image
    /// (stride 1).
    @inline(__always)
    func validRows(_ rows: Range<Int>, tap ki: Int) -> Range<Int> {
        let lo = min(rows.upperBound, max(rows.lowerBound, padH - ki))
        return lo..<max(lo, min(rows.upperBound, height + padH - ki))
    }

    /// For a contiguous band: where the run of `valid` rows starts in the tile (`dst`,
    /// from the first of `rows`) and in the plane (`src`), and its length, clipped to
    /// the plane. What the clipping leaves out reads padding.
    @inline(__always)
    func span(_ rows: Range<Int>, _ valid: Range<Int>, tap: (Int, Int)) -> (dst: Int, src: Int, count: Int) {
        var dst = (valid.lowerBound - rows.lowerBound) * width
        var src = (valid.lowerBound - padH + tap.0) * width - padW + tap.1
        var count = valid.count * width
        if src < 0 { dst -= src; count += src; src = 0 }
        return (dst, src, min(count, height * width - src))
    }
}

// Short runs, eight floats at a time (two 128-bit vectors on the baseline x86-64 target;
// for runs this short that beats a call to memcpy).

@inline(__always)
private func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}

@inline(__always)
private func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

/// d[0..<n] = s[0..<n] (the runs do not overlap); memcpy for long runs.
@inline(__always)
func copyRun(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
    if n >= 16 { d.update(from: s, count: n); return }
    var i = 0
    while i + 8 <= n {
        let a = load4(s + i), b = load4(s + i + 4)
        store4(a, d + i); store4(b, d + i + 4)
        i += 8
    }
    if i + 4 <= n { store4(load4(s + i), d + i); i += 4 }
    while i < n { d[i] = s[i]; i += 1 }
}

/// d[0..<n] = 0; memset for long runs.
@inline(__always)
func zeroRun(_ d: UnsafeMutablePointer<Float>, _ n: Int) {
    if n >= 16 { d.update(repeating: 0, count: n); return }
    var i = 0
    while i + 4 <= n { store4(.zero, d + i); i += 4 }
    while i < n { d[i] = 0; i += 1 }
}

/// d[0..<n] += s[0..<n] (the runs do not overlap).
@inline(__always)
func addRun(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n {
        let a = load4(d + i) + load4(s + i), b = load4(d + i + 4) + load4(s + i + 4)
        store4(a, d + i); store4(b, d + i + 4)
        i += 8
    }
    if i + 4 <= n { store4(load4(d + i) + load4(s + i), d + i); i += 4 }
    while i < n { d[i] += s[i]; i += 1 }
}
