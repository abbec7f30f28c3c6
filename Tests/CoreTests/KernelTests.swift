import Foundation
import Testing
@testable import Core

/// Single kernels against PyTorch, for paths the model fixtures do not exercise.
@Suite struct KernelTests {
    let x = Fixtures.reference("k.x")
    func ref(_ name: String) -> Tensor { Fixtures.reference(name) }

    @Test func activations() {
        expectClose(x.gelu(), ref("k.gelu"), "gelu")
        expectClose(x.geluTanh(), ref("k.gelu_tanh"), "gelu tanh")
        expectClose(x.quickGelu(), ref("k.quick_gelu"), "quick gelu")
        expectClose(x.silu(), ref("k.silu"), "silu")
        expectClose(x.softmax(), ref("k.softmax"), "softmax")
    }

    @Test func convolutions() {
        expectClose(x.conv2d(weight: ref("k.w5"), bias: ref("k.b5"), stride: 2, padding: .uniform(2)), ref("k.conv5_s2"), "5x5 stride 2")
        expectClose(x.conv2d(weight: ref("k.w3"), bias: nil, stride: 2, padding: Padding2D(top: 0, left: 0, bottom: 1, right: 1)),
                    ref("k.conv3_asym"), "3x3 asymmetric padding")
        // A batch of one goes through the multi-threaded path (the batch of two, whose planes are
        // small, through one product for both images: `batchPathsAgreeWithOneImageAtATime`).
        let single = x.item(1).reshaped([1, 6, 9, 11]).conv2d(weight: ref("k.w5"), bias: ref("k.b5"), stride: 2, padding: .uniform(2))
        expectClose(single, ref("k.conv5_s2").item(1).reshaped(single.shape), "batch of one")
    }

    /// Small planes are convolved for the whole batch in one product, large ones one image per
    /// core; both must give what each image alone gives (the path checked against PyTorch above).
    @Test(arguments: [(9, 11, 3, 1, 1), (9, 11, 1, 1, 0), (9, 11, 3, 2, 1), (20, 20, 3, 1, 1), (20, 20, 1, 1, 0)])
    func batchPathsAgreeWithOneImageAtATime(h: Int, w: Int, kernel: Int, stride: Int, padding: Int) {
        var rng = RandomGenerator(seed: 7)
        let x = rng.normal([3, 4, h, w]), weight = rng.normal([5, 4, kernel, kernel]), bias = rng.normal([5])
        let batch = x.conv2d(weight: weight, bias: bias, stride: stride, padding: .uniform(padding))
        for b in 0..<3 {
            let one = x.item(b).reshaped([1, 4, h, w]).conv2d(weight: weight, bias: bias, stride: stride, padding: .uniform(padding))
            let got = batch.item(b)
            #expect(got.count == one.count)
            let worst = zip(got.storage, one.storage).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-5, "image \(b) of \(h)x\(w), \(kernel)x\(kernel) stride \(stride): max |Δ| \(worst)")
        }
    }

    /// The direct kernel (few channels) must give what im2col + sgemm gives (the path checked
    /// against PyTorch above), for odd sizes, strides 1–3, channel counts that leave a partial
    /// block of 8 outputs, asymmetric and wide padding, one image (channels split over cores) or
    /// several.
    @Test(.enabled(if: Tensor.directConvolutionAvailable, "this CPU has neither AVX-512 nor AVX2: the direct kernel is never used"),
          arguments: [
        (1, 5, 13, 17, 19, 3, 1, Padding2D.uniform(1)),
        (3, 7, 8, 16, 16, 3, 1, Padding2D.uniform(1)),
        (2, 3, 32, 23, 9, 1, 1, Padding2D.uniform(0)),
        (2, 16, 3, 12, 31, 5, 1, Padding2D(top: 0, left: 2, bottom: 3, right: 1)),
        (1, 4, 20, 6, 7, 3, 1, Padding2D.uniform(3)),
        (2, 6, 11, 16, 16, 3, 2, Padding2D.uniform(1)),
        (1, 5, 9, 15, 13, 3, 2, Padding2D(top: 0, left: 0, bottom: 1, right: 1)),
        (2, 3, 4, 17, 20, 5, 3, Padding2D(top: 2, left: 1, bottom: 0, right: 2)),
    ])
    func directConvolutionAgreesWithUnfolded(n: Int, cin: Int, cout: Int, h: Int, w: Int, kernel: Int, stride: Int,
                                             padding: Padding2D) {
        var rng = RandomGenerator(seed: 11)
        let x = rng.normal([n, cin, h, w]), weight = rng.normal([cout, cin, kernel, kernel]), bias = rng.normal([cout])
        var fp32Results = [Tensor]()
        // Under bf16 both paths round the same operands to bf16 and sum in fp32, so they agree
        // as closely as fp32's do, and both differ from fp32.
        for precision in ComputePrecision.allCases where precision.isAvailable {
            for withBias in [true, false] {
                let b = withBias ? bias : nil
                let (direct, unfolded) = ComputePrecision.with(precision) {
                    (x.convolved(weight: weight, bias: b, stride: stride, padding: padding, direct: true),
                     x.convolved(weight: weight, bias: b, stride: stride, padding: padding, direct: false))
                }
                #expect(direct.shape == unfolded.shape)
                let worst = zip(direct.storage, unfolded.storage).map { abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= 1e-4, "\(precision) \(n)×\(cin)×\(h)×\(w) → \(cout), \(kernel)×\(kernel) stride \(stride) \(padding), bias \(withBias): max |Δ| \(worst)")
                if precision == .fp32 {
                    fp32Results.append(direct)
                } else {
                    let fromFP32 = zip(direct.storage, fp32Results[withBias ? 0 : 1].storage).map { abs($0 - $1) }.max() ?? 0
                    #expect(fromFP32 > 1e-4 && fromFP32 < 0.2, "bf16 against fp32: max |Δ| \(fromFP32)")
                }
            }
        }
    }

    @Test func normalisations() {
        expectClose(x.groupNorm(groups: 3, weight: ref("k.gn_w"), bias: ref("k.gn_b"), eps: 1e-6), ref("k.group_norm"), "group norm")
        expectClose(x.groupNorm(groups: 3, weight: ref("k.gn_w"), bias: ref("k.gn_b"), eps: 1e-6, thenSiLU: true),
                    ref("k.group_norm").silu(), "group norm fused with SiLU")
        expectClose(x.layerNorm(weight: ref("k.ln_w"), bias: ref("k.ln_b"), eps: 1e-5), ref("k.layer_norm"), "layer norm")
    }

    @Test func nearestUpsamplingToAnOddSize() {
        expectClose(x.upsampleNearest(height: 19, width: 23), ref("k.upsample_odd"), "upsample")
    }

    @Test func timestepEmbeddingWithoutFlipAndWithShift() {
        let out = SinusoidalEmbedding.timesteps(ref("k.timesteps").storage, dim: 10, flipSinToCos: false, downscaleFreqShift: 1)
        expectClose(out, ref("k.temb_noflip_shift1"), "timestep embedding")
    }

    @Test func blasUsesAVX512KernelsUnlessTheUserChose() {
        let core = BLAS.prepare().lowercased()
        if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil && BLAS.cpuHasAVX512() {
            #expect(core == "skylakex" || core == "cooperlake", "core \(core)")
        } else if let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] {
            #expect(core == chosen.lowercased(), "the user's OPENBLAS_CORETYPE=\(chosen) must be kept")
        }
    }
}
