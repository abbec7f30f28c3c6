import CVectorKernels
import Testing
@testable import Core

/// The fused attention kernels (AVX-512, and AVX2 forward and backward) and the sgemm path,
/// against PyTorch and each other.
@Suite struct AttentionKernelTests {
    @Test(arguments: [false, true])
    func causalAttentionMatchesPyTorch(fused: Bool) {
        let out = Tensor.attentionUnprofiled(query: Fixtures.reference("k.q"), key: Fixtures.reference("k.k"),
                                             value: Fixtures.reference("k.v"), heads: 3, causal: true, fused: fused)
        expectClose(out, Fixtures.reference("k.attention_causal"), "causal attention, fused \(fused)")
    }

    /// Shapes off the kernel's blocks: query rows not a multiple of 8, keys not a multiple of 32,
    /// head sizes not a multiple of 16, one key, and scores large enough to overflow a naive exp.
    static let oddShapes: [(queries: Int, keys: Int, channels: Int, heads: Int, causal: Bool, magnitude: Float)] = [
        (queries: 13, keys: 77, channels: 40, heads: 1, causal: false, magnitude: Float(1)),
        (queries: 64, keys: 64, channels: 96, heads: 4, causal: true, magnitude: 1),
        (queries: 37, keys: 1, channels: 160, heads: 2, causal: false, magnitude: 1),
        (queries: 100, keys: 300, channels: 80, heads: 1, causal: false, magnitude: 30),
        (queries: 9, keys: 33, channels: 10, heads: 5, causal: true, magnitude: 1),
        (queries: 50, keys: 50, channels: 3, heads: 3, causal: true, magnitude: 4),
    ]

    @Test(.enabled(if: Tensor.fusedAttentionAvailable, "the fused kernels need AVX-512 or AVX2"), arguments: oddShapes)
    func fusedKernelAgreesWithTheSgemmPath(queries: Int, keys: Int, channels: Int, heads: Int, causal: Bool, magnitude: Float) {
        var rng = RandomGenerator(seed: UInt64(queries * 1000 + keys))
        let q = rng.normal([2, queries, channels]).scaled(by: magnitude)
        let k = rng.normal([2, keys, channels]), v = rng.normal([2, keys, channels])
        let fused = Tensor.attentionUnprofiled(query: q, key: k, value: v, heads: heads, causal: causal, fused: true)
        let plain = Tensor.attentionUnprofiled(query: q, key: k, value: v, heads: heads, causal: causal, fused: false)
        let finite = fused.storage.allSatisfy { $0.isFinite }
        #expect(finite)
        expectClose(fused, plain, "fused vs sgemm \(queries)×\(keys)×\(channels)/\(heads)")
    }

    /// The AVX2 forward kernel, called per head as `attentionUnprofiled` calls it, on every CPU
    /// with AVX2 (an AVX-512 CPU runs its own kernel in the model).
    @Test(.enabled(if: csd_attention_avx2_available() != 0, "the kernel needs AVX2 and FMA"), arguments: oddShapes)
    func avx2ForwardAgreesWithTheSgemmPath(queries: Int, keys: Int, channels: Int, heads: Int, causal: Bool, magnitude: Float) {
        var rng = RandomGenerator(seed: UInt64(queries * 1000 + keys + 7))
        let q = rng.normal([2, queries, channels]).scaled(by: magnitude)
        let k = rng.normal([2, keys, channels]), v = rng.normal([2, keys, channels])
        let d = channels / heads
        var out = Tensor(zeros: [2, queries, channels])
        q.storage.withUnsafeBufferPointer { qp in
            k.storage.withUnsafeBufferPointer { kp in
                v.storage.withUnsafeBufferPointer { vp in
                    out.storage.withUnsafeMutableBufferPointer { op in
                        for b in 0..<2 {
                            for h in 0..<heads {
                                let rowsOffset = b * queries * channels + h * d, keysOffset = b * keys * channels + h * d
                                let done = csd_attention_head_avx2(qp.baseAddress! + rowsOffset, kp.baseAddress! + keysOffset,
                                                                   vp.baseAddress! + keysOffset, op.baseAddress! + rowsOffset,
                                                                   queries, keys, d, channels, 1 / Float(d).squareRoot(),
                                                                   causal ? 0 : -1)
                                #expect(done == 0)
                            }
                        }
                    }
                }
            }
        }
        let plain = Tensor.attentionUnprofiled(query: q, key: k, value: v, heads: heads, causal: causal, fused: false)
        #expect(out.storage.allSatisfy { $0.isFinite })
        expectClose(out, plain, "AVX2 vs sgemm \(queries)×\(keys)×\(channels)/\(heads)")
    }

    /// The fused AVX2 backward against the sgemm path's (which the layer tests hold to PyTorch).
    @Test(.enabled(if: csd_attention_avx2_available() != 0, "the kernel needs AVX2 and FMA"), arguments: oddShapes)
    func avx2BackwardAgreesWithTheSgemmPath(queries: Int, keys: Int, channels: Int, heads: Int, causal: Bool, magnitude: Float) {
        var rng = RandomGenerator(seed: UInt64(queries * 1000 + keys + 11))
        let q = rng.normal([2, queries, channels]).scaled(by: magnitude)
        let k = rng.normal([2, keys, channels]), v = rng.normal([2, keys, channels])
        let g = rng.normal([2, queries, channels])
        let fused = Tensor.attentionGradients(g, query: q, key: k, value: v, heads: heads, causal: causal, fused: true)
        let plain = Tensor.attentionGradients(g, query: q, key: k, value: v, heads: heads, causal: causal, fused: false)
        let what = "\(queries)×\(keys)×\(channels)/\(heads), causal \(causal)"
        for (a, b, name) in [(fused.query, plain.query, "dQ"), (fused.key, plain.key, "dK"), (fused.value, plain.value, "dV")] {
            #expect(a.storage.allSatisfy { $0.isFinite })
            expectClose(a, b, "\(name) AVX2 vs sgemm \(what)")
        }
    }
}
