import CVectorKernels

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

    /// The cores the tiles are cut for, whatever the machine has: a tile's rows change how the
    /// kernels round (the fused kernel's last block, sgemm's edge), so tiles cut for the thread
    /// count gave other results on 8 or more threads than on 1 to 4.
    static let tilingCores = 4

    /// Query rows per tile: each tile's scores (rows × Lk, at most 1 MiB) stay in the core's L2
    /// cache between the two products, and larger tiles let sgemm spread its packing of Kᵀ and V
    /// over more rows (64 → 256 rows: 0.66 → 0.70 of the sgemm rate on SD's 1024-token layers);
    /// smaller where that would leave a core without tiles.
    static func attentionTile(queries: Int, keys: Int, items: Int) -> Int {
        var rows = max(16, min(256, (1 << 18) / max(1, keys)))
        while rows > 16 && items * ((queries + rows - 1) / rows) < 2 * tilingCores { rows /= 2 }
        return rows
    }

    /// Query rows per call of the fused kernel, which transposes its head's keys once per call:
    /// as many as leave every core two calls or more.
    static func fusedAttentionTile(queries: Int, items: Int) -> Int {
        let splits = max(1, (2 * tilingCores + items - 1) / items)
        return max(8, ((queries + splits - 1) / splits + 7) / 8 * 8)
    }

    /// Whether this CPU runs a fused attention kernel: `csd_attention_head` (AVX-512) or
    /// `csd_attention_head_avx2` (AVX2 and FMA).
    static let fusedAttentionAvailable = csd_attention_head_available() != 0 || csd_attention_avx2_available() != 0
    /// Which one: AVX-512's where the CPU has it.
    static let fusedAttentionIsAVX512 = csd_attention_head_available() != 0

    /// Tiles of (batch, head, block of query rows) run in parallel. `fused`: each tile in a fused
    /// C kernel (no score matrix in memory, no packing) where the CPU has AVX-512 or AVX2; otherwise
    /// single-threaded sgemm: scores = Q·Kᵀ·scale, exp(scores − row max), output = P·V / row sum.
    /// Tests run both.
    static func attentionUnprofiled(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool,
                                    fused: Bool = fusedAttentionAvailable) -> Tensor {
        let useFusedKernel = fused && fusedAttentionAvailable
        let (b, lq, c) = (query.shape[0], query.shape[1], query.shape[2])
        let lk = key.shape[1]
        precondition(key.shape == [b, lk, c] && value.shape == [b, lk, c],
                     "attention: key \(key.shape) / value \(value.shape) do not fit query \(query.shape)")
        precondition(c % heads == 0, "attention: \(c) channels do not split into \(heads) heads")
        let d = c / heads
        let scale = 1 / Float(d).squareRoot()
        let tile = useFusedKernel ? fusedAttentionTile(queries: lq, items: b * heads)
                                  : attentionTile(queries: lq, keys: lk, items: b * heads)
        let blocks = (lq + tile - 1) / tile
        var out = Tensor(uninitialized: [b, lq, c])
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
                                if useFusedKernel {
                                    let offset = causal ? row0 : -1
                                    let done = fusedAttentionIsAVX512
                                        ? csd_attention_head(qp, kp, vp, op, rows, lk, d, c, scale, offset)
                                        : csd_attention_head_avx2(qp, kp, vp, op, rows, lk, d, c, scale, offset)
                                    if done == 0 { return }
                                }
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
