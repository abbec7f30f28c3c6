/// Multi-head scaled dot-product attention on BLAS
/// (`torch.nn.functional.scaled_dot_product_attention`, default scale `1/√head_dim`).
extension Tensor {
    /// `query` [B, Lq, C], `key`/`value` [B, Lk, C] → [B, Lq, C], with `heads` heads of C/heads
    /// channels each; `causal` masks key j > query i.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false) -> Tensor {
        let (b, lq, c) = (query.shape[0], query.shape[1], query.shape[2])
        let lk = key.shape[1]
        precondition(key.shape == [b, lk, c] && value.shape == [b, lk, c],
                     "attention: key \(key.shape) / value \(value.shape) do not fit query \(query.shape)")
        precondition(c % heads == 0, "attention: \(c) channels do not split into \(heads) heads")
        let d = c / heads
        let scale = 1 / Float(d).squareRoot()
        var out = Tensor(zeros: [b, lq, c])
        var scores = [Float](repeating: 0, count: lq * lk)
        query.storage.withUnsafeBufferPointer { q in
            key.storage.withUnsafeBufferPointer { k in
                value.storage.withUnsafeBufferPointer { v in
                    out.storage.withUnsafeMutableBufferPointer { o in
                        scores.withUnsafeMutableBufferPointer { sbuf in
                            let s = sbuf.baseAddress!
                            for bi in 0..<b {
                                for h in 0..<heads {
                                    let qp = q.baseAddress! + bi * lq * c + h * d
                                    let kp = k.baseAddress! + bi * lk * c + h * d
                                    let vp = v.baseAddress! + bi * lk * c + h * d
                                    let op = o.baseAddress! + bi * lq * c + h * d
                                    BLAS.sgemm(transA: false, transB: true, m: lq, n: lk, k: d, alpha: scale,
                                               a: qp, lda: c, b: kp, ldb: c, c: s, ldc: lk)
                                    parallelChunks(lq, minimumChunk: 16) { rows in
                                        for i in rows {
                                            let row = s + i * lk
                                            if causal { for j in (i + 1)..<max(i + 1, lk) { row[j] = -Float.infinity } }
                                            Tensor.softmaxRow(row, lk)
                                        }
                                    }
                                    BLAS.sgemm(transA: false, transB: false, m: lq, n: d, k: lk,
                                               a: s, lda: lk, b: vp, ldb: c, c: op, ldc: c)
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
