// Conv2D backward, per column tile: dWᵀ += columns · dYᵀ, db += Σ dY, and
// dX = col2im(Wᵀ · dY). Both products run slice by slice, as in forward, in the
// operand orders that OpenBLAS's small-matrix kernels run fastest.
//
// Each thread takes a contiguous run of samples (so that no two threads' col2im touch
// the same input image), rebuilds each tile's columns with im2col — cheaper than
// keeping a whole batch of columns from forward, which would not stay in cache — and
// accumulates dWᵀ and db into its own partial buffers. The partials are summed in
// thread order and transposed into the parameter gradient, so the result does not
// depend on timing.
import PhalanxCore

extension Conv2D {
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input, let wt = weightT else { preconditionFailure("Conv2D.backward before forward") }
        precondition(dy.shape == output?.shape,
                     "Conv2D.backward: output gradient \(describe(dy.shape)) does not match output \(describe(output?.shape ?? []))")
        let plan = ConvPlan(layer: self, inputShape: x.shape)
        prepareScratch(plan, backward: true)
        let dx = Tensor.reuse(&inputGradient, shape: x.shape)
        let imageCount = inChannels * plan.inputPixels
        Parallel.forChunks(plan.batch) { chunk, samples in
            let s = scratch[chunk]
            if needsInputGradient && !plan.pointwise {
                // col2im accumulates; a 1×1 layer writes dX with beta = 0 instead.
                (dx.data + samples.lowerBound * imageCount).update(repeating: 0, count: samples.count * imageCount)
            }
            plan.forEachTile(in: samples) { ns, rows in
                backwardTile(plan, x.data, dy.data, dx.data, samples: ns, rows: rows, s)
            }
        }
        // Σ partials in thread order, then dW_g += (dW_gᵀ)ᵀ through the Wᵀ buffer.
        let sum = scratch[0].weightGradientT!.data
        for s in scratch.dropFirst().prefix(Parallel.threads - 1) {
            BLAS.axpy(weight.count, 1, s.weightGradientT!.data, sum)
        }
        let wBlock = plan.outPerGroup * plan.groupRows
        for g in 0..<groups {
            BLAS.transpose(rows: plan.groupRows, cols: plan.outPerGroup, sum + g * wBlock, wt.data + g * wBlock)
        }
        BLAS.axpy(weight.count, 1, wt.data, weight.gradient.data)
        if let b = bias {
            for s in scratch.prefix(Parallel.threads) { BLAS.axpy(outChannels, 1, s.biasGradient!.data, b.gradient.data) }
        }
        return dx
    }

    /// Gradients of one tile (see `forwardTile` for the layout).
    private func backwardTile(_ p: ConvPlan, _ x: UnsafeMutablePointer<Float>, _ dy: UnsafeMutablePointer<Float>,
                              _ dx: UnsafeMutablePointer<Float>, samples: Range<Int>, rows: Range<Int>,
                              _ s: ConvScratch) {
        let outW = p.geometry.outW
        let band = rows.count * p.pitch, cols = samples.count * band
        let dyt = s.transposed!.data
        let db = s.biasGradient!.data
        for (j, n) in samples.enumerated() {
            // dYᵀ of the tile [cols, Cout] (zeros in wide junk rows), and db.
            let src = dy + n * outChannels * p.pixels + rows.lowerBound * outW
            let dst = dyt + j * band * outChannels
            if p.wide {
                for r in 0..<rows.count {
                    let at = dst + r * p.pitch * outChannels
                    BLAS.transpose(rows: outChannels, cols: outW, src + r * outW, lda: p.pixels, at, ldb: outChannels)
                    (at + outW * outChannels).update(repeating: 0, count: (p.pitch - outW) * outChannels)
                }
            } else {
                BLAS.transpose(rows: outChannels, cols: band, src, lda: p.pixels, dst, ldb: outChannels)
            }
            if bias != nil {
                for co in 0..<outChannels { db[co] += rowSum(src + co * p.pixels, rows.count * outW) }
            }
        }
        let (col, ldCol, groupStride) = columns(p, x, samples: samples, rows: rows, s)
        let dwt = s.weightGradientT!.data
        let wBlock = p.outPerGroup * p.groupRows
        p.forEachSlice(cols) { c0, n in
            for g in 0..<groups {
                // dW_gᵀ += columns_g[:, c0..<c0+n] · dYᵀ[c0..<c0+n, group g]
                BLAS.gemm(m: p.groupRows, n: p.outPerGroup, k: n,
                          col + g * groupStride + c0, lda: ldCol,
                          dyt + c0 * outChannels + g * p.outPerGroup, ldb: outChannels,
                          beta: 1, dwt + g * wBlock, ldc: p.outPerGroup)
            }
        }
        guard needsInputGradient else { return }
        // dY as [Cout, cols]: in place for one sample, dYᵀ transposed back otherwise.
        let grad: UnsafeMutablePointer<Float>, ldGrad: Int
        if samples.count == 1 && !p.wide {
            grad = dy + samples.lowerBound * outChannels * p.pixels + rows.lowerBound * outW
            ldGrad = p.pixels
        } else {
            grad = s.gathered!.data
            ldGrad = cols
            BLAS.transpose(rows: cols, cols: outChannels, dyt, lda: outChannels, grad, ldb: cols)
        }
        // dColumns_g = W_gᵀ · dY_g: straight into dX for 1×1, into scratch otherwise.
        let target: UnsafeMutablePointer<Float>, ldTarget: Int, targetGroupStride: Int
        if p.pointwise {
            target = dx + samples.lowerBound * inChannels * p.pixels + rows.lowerBound * outW
            (ldTarget, targetGroupStride) = (p.pixels, p.inPerGroup * p.pixels)
        } else {
            target = s.columnGradient!.data
            (ldTarget, targetGroupStride) = (cols, p.groupRows * cols)
        }
        let w = weight.value.data
        p.forEachSlice(cols) { c0, n in
            for g in 0..<groups {
                BLAS.gemm(transA: true, m: p.groupRows, n: n, k: p.outPerGroup,
                          w + g * wBlock, lda: p.groupRows,
                          grad + g * p.outPerGroup * ldGrad + c0, ldb: ldGrad,
                          target + g * targetGroupStride + c0, ldc: ldTarget)
            }
        }
        if p.pointwise { return }
        for (j, n) in samples.enumerated() {
            let image = dx + n * inChannels * p.inputPixels
            if p.wide {
                col2imWide(target + j * band, ld: cols, p.geometry, rows: rows, image)
            } else {
                col2im(target + j * band, ld: cols, p.geometry, rows: rows, image)
            }
        }
    }
}
