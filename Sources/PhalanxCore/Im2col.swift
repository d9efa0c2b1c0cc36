// im2col / col2im for 2-D convolution (Caffe's layout), one image (or a band of its
// output rows) at a time.
//
// For an image [C, H, W] and a kernel kh×kw with stride and zero padding, the column
// matrix has C·kh·kw rows and outH·outW columns: row (c, i, j) holds the input pixel
// each output position sees through kernel tap (i, j) of channel c, 0 where the tap
// falls in the padding. Convolution is then one GEMM. Dilation is left out.

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
    let outW = g.outW, H = g.height, W = g.width, sH = g.strideH, sW = g.strideW
    var row = col
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                // Output columns whose input column iw = ow·S − P + kj lies in [0, W).
                let (owLo, owHi) = g.validColumns(tap: kj)
                var dst = row
                for oh in rows {
                    let ih = oh * sH - g.padH + ki
                    defer { dst += outW }
                    if ih < 0 || ih >= H || owHi <= owLo {
                        dst.update(repeating: 0, count: outW)
                        continue
                    }
                    let src = plane + ih * W
                    if owLo > 0 { dst.update(repeating: 0, count: owLo) }
                    if sW == 1 {
                        (dst + owLo).update(from: src + (owLo - g.padW + kj), count: owHi - owLo)
                    } else {
                        var iw = owLo * sW - g.padW + kj
                        for ow in owLo..<owHi {
                            dst[ow] = src[iw]
                            iw += sW
                        }
                    }
                    if owHi < outW { (dst + owHi).update(repeating: 0, count: outW - owHi) }
                }
                row += ld
            }
        }
    }
}

/// Adds the column matrix `col` back onto `image` ([C, H, W]); the adjoint of `im2col`.
/// `image` is accumulated into, not overwritten.
public func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, _ image: UnsafeMutablePointer<Float>) {
    col2im(col, ld: g.colCols, g, rows: 0..<g.outH, image)
}

/// Adds the columns of output rows `rows` (a block laid out as `im2col(_:_:rows:_:ld:)`
/// writes it) back onto `image` ([C, H, W]); the adjoint of that call.
public func col2im(_ col: UnsafePointer<Float>, ld: Int, _ g: ConvGeometry, rows: Range<Int>,
                   _ image: UnsafeMutablePointer<Float>) {
    let outW = g.outW, H = g.height, W = g.width, sH = g.strideH, sW = g.strideW
    var row = col
    for c in 0..<g.channels {
        let plane = image + c * H * W
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                let (owLo, owHi) = g.validColumns(tap: kj)
                if owHi > owLo {
                    var src = row
                    for oh in rows {
                        let ih = oh * sH - g.padH + ki
                        defer { src += outW }
                        if ih < 0 || ih >= H { continue }
                        let dst = plane + ih * W + (owLo * sW - g.padW + kj)
                        let n = owHi - owLo, s = src + owLo
                        if sW == 1 {
                            for i in 0..<n { dst[i] += s[i] }
                        } else {
                            for i in 0..<n { dst[i * sW] += s[i] }
                        }
                    }
                }
                row += ld
            }
        }
    }
}
