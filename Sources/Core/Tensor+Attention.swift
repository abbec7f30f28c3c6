/// Multi-head scaled dot-product attention on BLAS
/// (`torch.nn.functional.scaled_dot_product_attention`, default scale `1/√head_dim`).
extension Tensor {
    /// `query` [B, Lq, C], `key`/`value` [B, Lk, C] → [B, Lq, C], with `heads` heads of C/heads
    /// channels each; `causal` masks key j > query i.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false) -> Tensor {
        let flops = 4.0 * Double(query.count) * Double(key.shape[1])
        return Profiler.measure(.attention, flops: flops) {
            attentionUnprofiled(query: query, key: key, value: value, heads: heads, causal: causal)
        }
    }

    /// Query rows per tile: each tile's scores (tile × Lk) stay in cache between the two products.
    static let attentionTile = 64

    /// Tiles of (batch, head, block of query rows) run in parallel, each with single-threaded
    /// sgemm: scores = Q·Kᵀ·scale, exp(scores − row max), output = P·V / row sum.
    static func attentionUnprofiled(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool) -> Tensor {
        let (b, lq, c) = (query.shape[0], query.shape[1], query.shape[2])
        let lk = key.shape[1]
        precondition(key.shape == [b, lk, c] && value.shape == [b, lk, c],
                     "attention: key \(key.shape) / value \(value.shape) do not fit query \(query.shape)")
        precondition(c % heads == 0, "attention: \(c) channels do not split into \(heads) heads")
        let d = c / heads
        let scale = 1 / Float(d).squareRoot()
        let tile = attentionTile
        let blocks = (lq + tile - 1) / tile
        var out = Tensor(zeros: [b, lq, c])
        query.storage.withUnsafeBufferPointer { q in
            key.storage.withUnsafeBufferPointer { k in
                value.storage.withUnsafeBufferPointer { v in
                    out.storage.withUnsafeMutableBufferPointer { o in
                        let (qb, kb, vb, ob) = (q.baseAddress!, k.baseAddress!, v.baseAddress!, o.baseAddress!)
                        do {
                            parallelFor(b * heads * blocks) { item in
                                let block = item % blocks, h = (item / blocks) % heads, bi = item / (blocks * heads)
                                let row0 = block * tile, rows = min(tile, lq - row0)
                                let scores = UnsafeMutablePointer<Float>.allocate(capacity: rows * lk)
                                defer { scores.deallocate() }
                                let qp = qb + (bi * lq + row0) * c + h * d
                                let kp = kb + bi * lk * c + h * d
                                let vp = vb + bi * lk * c + h * d
                                let op = ob + (bi * lq + row0) * c + h * d
                                BLAS.sgemm(transA: false, transB: true, m: rows, n: lk, k: d, alpha: scale,
                                           a: qp, lda: c, b: kp, ldb: c, c: scores, ldc: lk, parallel: false)
                                let sums = UnsafeMutablePointer<Float>.allocate(capacity: rows)
                                defer { sums.deallocate() }
                                for r in 0..<rows {
                                    let row = scores + r * lk
                                    if causal { for j in min(lk, row0 + r + 1)..<lk { row[j] = -Float.infinity } }
                                    sums[r] = Tensor.exponentiateRow(row, lk)
                                }
                                BLAS.sgemm(transA: false, transB: false, m: rows, n: d, k: lk,
                                           a: scores, lda: lk, b: vp, ldb: c, c: op, ldc: c, parallel: false)
                                // The softmax's division, on the d outputs of a row instead of its lk weights.
                                for r in 0..<rows {
                                    let inv = sums[r] > 0 ? 1 / sums[r] : 0, out = op + r * c
                                    for j in 0..<d { out[j] *= inv }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
