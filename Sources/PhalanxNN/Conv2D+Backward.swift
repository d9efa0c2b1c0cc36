// Conv2D backward: dW += dY·columnsᵀ, db += Σ dY, dX = col2im(Wᵀ·dY), per column tile.
//
// Each thread takes a contiguous run of samples (so that no two threads' col2im touch
// the same input image), rebuilds each tile's columns with im2col — cheaper than
// keeping a whole batch of columns from forward, which would not fit in cache — and
// accumulates dW and db into its own partial buffers. The partials are then added to
// the parameter gradients in thread order, so the result does not depend on timing.
import PhalanxCore

extension Conv2D {
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Conv2D.backward before forward") }
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
        let wg = weight.gradient.data
        for s in scratch.prefix(Parallel.threads) {
            BLAS.axpy(weight.gradient.count, 1, s.weightGradient!.data, wg)
            if let b = bias { BLAS.axpy(outChannels, 1, s.biasGradient!.data, b.gradient.data) }
        }
        return dx
    }

    /// Gradients of one tile (see `forwardTile` for the layout).
    private func backwardTile(_ p: ConvPlan, _ x: UnsafeMutablePointer<Float>, _ dy: UnsafeMutablePointer<Float>,
                              _ dx: UnsafeMutablePointer<Float>, samples: Range<Int>, rows: Range<Int>,
                              _ s: ConvScratch) {
        let outW = p.geometry.outW
        let bandColumns = rows.count * outW
        let cols = samples.count * bandColumns
        let first = samples.lowerBound
        // dY of the tile as [Cout, cols]: in place for one sample, gathered otherwise.
        let grad: UnsafeMutablePointer<Float>, ldGrad: Int
        if samples.count == 1 {
            grad = dy + first * outChannels * p.pixels + rows.lowerBound * outW
            ldGrad = p.pixels
        } else {
            grad = s.outputTile!.data
            ldGrad = cols
            for (j, n) in samples.enumerated() {
                for co in 0..<outChannels {
                    (grad + co * cols + j * bandColumns)
                        .update(from: dy + (n * outChannels + co) * p.pixels, count: bandColumns)
                }
            }
        }
        if bias != nil {
            let db = s.biasGradient!.data
            for co in 0..<outChannels { db[co] += rowSum(grad + co * ldGrad, cols) }
        }
        // The column operand, as in forward.
        let columns: UnsafeMutablePointer<Float>, ldColumns: Int, groupStride: Int
        if p.pointwise {
            columns = x + first * inChannels * p.pixels + rows.lowerBound * outW
            (ldColumns, groupStride) = (p.pixels, p.inPerGroup * p.pixels)
        } else {
            columns = s.columns!.data
            (ldColumns, groupStride) = (cols, p.groupRows * cols)
            for (j, n) in samples.enumerated() {
                im2col(x + n * inChannels * p.inputPixels, p.geometry, rows: rows,
                       columns + j * bandColumns, ld: cols)
            }
        }
        let w = weight.value.data, dw = s.weightGradient!.data
        let wBlock = p.outPerGroup * p.groupRows
        for g in 0..<groups {
            // dW_g += dY_g · columns_gᵀ
            BLAS.gemm(transB: true, m: p.outPerGroup, n: p.groupRows, k: cols,
                      grad + g * p.outPerGroup * ldGrad, lda: ldGrad,
                      columns + g * groupStride, ldb: ldColumns,
                      beta: 1, dw + g * wBlock, ldc: p.groupRows)
        }
        guard needsInputGradient else { return }
        if p.pointwise {
            // dX_g = W_gᵀ · dY_g, written straight into the sample's channels.
            let target = dx + first * inChannels * p.pixels + rows.lowerBound * outW
            for g in 0..<groups {
                BLAS.gemm(transA: true, m: p.groupRows, n: cols, k: p.outPerGroup,
                          w + g * wBlock, lda: p.groupRows,
                          grad + g * p.outPerGroup * ldGrad, ldb: ldGrad,
                          target + g * p.inPerGroup * p.pixels, ldc: p.pixels)
            }
            return
        }
        // dColumns_g = W_gᵀ · dY_g, then col2im onto each sample's dX.
        let dcol = s.columnGradient!.data
        for g in 0..<groups {
            BLAS.gemm(transA: true, m: p.groupRows, n: cols, k: p.outPerGroup,
                      w + g * wBlock, lda: p.groupRows,
                      grad + g * p.outPerGroup * ldGrad, ldb: ldGrad,
                      dcol + g * p.groupRows * cols, ldc: cols)
        }
        for (j, n) in samples.enumerated() {
            col2im(dcol + j * bandColumns, ld: cols, p.geometry, rows: rows,
                   dx + n * inChannels * p.inputPixels)
        }
    }
}
