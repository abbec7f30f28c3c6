import CVectorKernels

/// The vector-Jacobian product of multi-head scaled dot-product attention. For each (item, head)
/// and each tile of query rows the probabilities are recomputed, P = softmax(Q·Kᵀ·s), then
/// dVᵀ += dOᵀ·P, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P))·s, dQ = dS·K, dKᵀ += Qᵀ·dS.
/// Tiles run in order within a head, so dK and dV sum the same way whatever the thread count.
extension Tensor {
    /// Whether the backward runs each head in the fused AVX2 kernel (`csd_attention_gradient`):
    /// on CPUs with AVX2 and FMA but not AVX-512, where it was measured against the sgemm path
    /// (docs/performance.md, "On a CPU without AVX-512"). AVX-512 CPUs keep the sgemm path.
    static let fusedAttentionGradientAvailable = csd_attention_avx2_available() != 0 && csd_attention_head_available() == 0

    /// Gradients of `Tensor.attention(query:key:value:heads:causal:)` for the output gradient `dOut`;
    /// `fused`: each head in `csd_attention_gradient` where the CPU runs it. Tests run both.
    static func attentionGradients(_ dOut: Tensor, query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool,
                                   fused: Bool = fusedAttentionGradientAvailable)
        -> (query: Tensor, key: Tensor, value: Tensor) {
        let (b, lq, c) = (query.shape[0], query.shape[1], query.shape[2])
        let lk = key.shape[1]
        let d = c / heads
        let scale = 1 / Float(d).squareRoot()
        let tile = max(16, min(256, (1 << 18) / max(1, lk)))
        var dq = Tensor(uninitialized: query.shape), dk = Tensor(uninitialized: key.shape), dv = Tensor(uninitialized: value.shape)
        query.storage.withUnsafeBufferPointer { q in
            key.storage.withUnsafeBufferPointer { k in
                value.storage.withUnsafeBufferPointer { v in
                    dOut.storage.withUnsafeBufferPointer { g in
                        dq.storage.withUnsafeMutableBufferPointer { dqs in
                            dk.storage.withUnsafeMutableBufferPointer { dks in
                                dv.storage.withUnsafeMutableBufferPointer { dvs in
                                    let (qb, kb, vb, gb) = (q.baseAddress!, k.baseAddress!, v.baseAddress!, g.baseAddress!)
                                    let (dqb, dkb, dvb) = (dqs.baseAddress!, dks.baseAddress!, dvs.baseAddress!)
                                    parallelFor(b * heads) { item in
                                        let h = item % heads, bi = item / heads
                                        if fused && csd_attention_gradient(
                                            qb + bi * lq * c + h * d, kb + bi * lk * c + h * d, vb + bi * lk * c + h * d,
                                            gb + bi * lq * c + h * d, dqb + bi * lq * c + h * d, dkb + bi * lk * c + h * d,
                                            dvb + bi * lk * c + h * d, lq, lk, d, c, scale, causal ? 1 : 0) == 0 {
                                            return
                                        }
                                        let probabilities = UnsafeMutablePointer<Float>.allocate(capacity: tile * lk)
                                        let scores = UnsafeMutablePointer<Float>.allocate(capacity: tile * lk)
                                        // dVᵀ and dKᵀ [d, lk]: wide products over the tile's rows, with the
                                        // tile's P and dS read as they lie (dV = Pᵀ·dO would transpose them).
                                        let dvT = UnsafeMutablePointer<Float>.allocate(capacity: d * lk)
                                        let dkT = UnsafeMutablePointer<Float>.allocate(capacity: d * lk)
                                        dvT.initialize(repeating: 0, count: d * lk)
                                        dkT.initialize(repeating: 0, count: d * lk)
                                        defer { probabilities.deallocate(); scores.deallocate(); dvT.deallocate(); dkT.deallocate() }
                                        let kp = kb + bi * lk * c + h * d, vp = vb + bi * lk * c + h * d
                                        let dkp = dkb + bi * lk * c + h * d, dvp = dvb + bi * lk * c + h * d
                                        var row0 = 0
                                        while row0 < lq {
                                            let rows = min(tile, lq - row0)
                                            let qp = qb + (bi * lq + row0) * c + h * d
                                            let gp = gb + (bi * lq + row0) * c + h * d
                                            let dqp = dqb + (bi * lq + row0) * c + h * d
                                            BLAS.sgemm(transA: false, transB: true, m: rows, n: lk, k: d, alpha: scale,
                                                       a: qp, lda: c, b: kp, ldb: c, c: probabilities, ldc: lk, parallel: false)
                                            for r in 0..<rows {
                                                let row = probabilities + r * lk
                                                if causal { for j in min(lk, row0 + r + 1)..<lk { row[j] = -Float.infinity } }
                                                Tensor.softmaxRow(row, lk)
                                            }
                                            BLAS.sgemm(transA: true, transB: false, m: d, n: lk, k: rows, a: gp, lda: c,
                                                       b: probabilities, ldb: lk, beta: 1, c: dvT, ldc: lk, parallel: false)
                                            BLAS.sgemm(transA: false, transB: true, m: rows, n: lk, k: d, a: gp, lda: c,
                                                       b: vp, ldb: c, c: scores, ldc: lk, parallel: false)
                                            for r in 0..<rows {
                                                let s = scores + r * lk
                                                Tensor.softmaxRowGradient(s, probabilities + r * lk, s, lk, scale: scale)
                                            }
                                            BLAS.sgemm(transA: false, transB: false, m: rows, n: d, k: lk, a: scores, lda: lk,
                                                       b: kp, ldb: c, c: dqp, ldc: c, parallel: false)
                                            BLAS.sgemm(transA: true, transB: false, m: d, n: lk, k: rows, a: qp, lda: c,
                                                       b: scores, ldb: lk, beta: 1, c: dkT, ldc: lk, parallel: false)
                                            row0 += rows
                                        }
                                        for j in 0..<lk {
                                            for i in 0..<d {
                                                dvp[j * c + i] = dvT[i * lk + j]
                                                dkp[j * c + i] = dkT[i * lk + j]
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dq, dk, dv)
    }
}
