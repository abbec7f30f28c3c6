/// Padding of a 2-D convolution, per side.
public struct Padding2D: Equatable, Sendable {
    public var top: Int, left: Int, bottom: Int, right: Int
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        (self.top, self.left, self.bottom, self.right) = (top, left, bottom, right)
    }
    public static func uniform(_ p: Int) -> Padding2D { Padding2D(top: p, left: p, bottom: p, right: p) }
}

import Foundation
import CVectorKernels

/// 2-D convolution as im2col + sgemm (`torch.nn.functional.conv2d`): one product per image, or one
/// for the whole batch when the output planes are small.
extension Tensor {
    /// Convolves an NCHW tensor with `weight` [Cout, Cin, kh, kw] and optional `bias` [Cout].
    public func conv2d(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Padding2D = .uniform(0)) -> Tensor {
        let flops = 2.0 * Double(shape[0]) * Double(weight.count) * Double(outputPlane(weight: weight, stride: stride, padding: padding))
        return Profiler.measure(.convolution, flops: flops) {
            convolved(weight: weight, bias: bias, stride: stride, padding: padding)
        }
    }

    func outputPlane(weight: Tensor, stride: Int, padding: Padding2D) -> Int {
        let ho = (shape[2] + padding.top + padding.bottom - weight.shape[2]) / stride + 1
        let wo = (shape[3] + padding.left + padding.right - weight.shape[3]) / stride + 1
        return ho * wo
    }

    /// `direct` forces (true) or forbids (false) the direct kernel, and either keeps Winograd's
    /// out; by default `usesWinogradConvolution`, then `usesDirectConvolution`, decide.
    func convolved(weight: Tensor, bias: Tensor?, stride: Int, padding: Padding2D, direct: Bool? = nil) -> Tensor {
        let (n, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (cout, wcin, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(wcin == cin, "conv2d: weight \(weight.shape) does not take \(cin) channels")
        let ho = (h + padding.top + padding.bottom - kh) / stride + 1
        let wo = (w + padding.left + padding.right - kw) / stride + 1
        let k = cin * kh * kw
        let p = ho * wo
        var out = Tensor(uninitialized: [n, cout, ho, wo])
        if direct == nil && Tensor.usesWinogradConvolution(kh: kh, kw: kw, stride: stride, cin: cin, cout: cout, plane: p) {
            winogradConvolve(weight: weight, bias: bias, padding: padding, ho: ho, wo: wo, into: &out)
            return out
        }
        if direct ?? Tensor.usesDirectConvolution(cin: cin, cout: cout, stride: stride, plane: p) {
            precondition(Tensor.directConvolutionAvailable, "conv2d: this CPU has no direct kernel")
            directlyConvolve(weight: weight, bias: bias, stride: stride, padding: padding, ho: ho, wo: wo, into: &out)
            return out
        }
        let pointwise = kh == 1 && kw == 1 && stride == 1 && padding == .uniform(0)
        let workers = Parallelism.workers
        storage.withUnsafeBufferPointer { xs in
            weight.storage.withUnsafeBufferPointer { ws in
                out.storage.withUnsafeMutableBufferPointer { ys in
                    let (xb, wb, yb) = (xs.baseAddress!, ws.baseAddress!, ys.baseAddress!)
                    /// One image: im2col (unless 1x1) and one sgemm.
                    func convolveImage(_ b: Int, columns: UnsafeMutablePointer<Float>?, parallel: Bool) {
                        let x = xb + b * cin * h * w
                        let y = yb + b * cout * p
                        var source = UnsafePointer(x)
                        if let col = columns {
                            Tensor.im2col(x, cin: cin, h: h, w: w, kh: kh, kw: kw, stride: stride,
                                          padding: padding, ho: ho, wo: wo, into: col)
                            source = UnsafePointer(col)
                        }
                        if let bias {
                            for o in 0..<cout {
                                let v = bias.storage[o]
                                let row = y + o * p
                                for i in 0..<p { row[i] = v }
                            }
                        }
                        BLAS.sgemm(transA: false, transB: false, m: cout, n: p, k: k,
                                   a: wb, lda: k, b: source, ldb: p,
                                   beta: bias == nil ? 0 : 1, c: y, ldc: p, parallel: parallel)
                    }
                    if n > 1 && p <= Tensor.batchedPlaneLimit {
                        // Small planes: every image's columns side by side in one product, so the
                        // weights are read once, not once per image (and per core).
                        let wide = n * p
                        let streamed = BLAS.prefersStreamedProduct(m: cout, n: wide, k: k)
                        let ldp = streamed ? (wide + 15) / 16 * 16 : wide
                        let columns = UnsafeMutablePointer<Float>.allocate(capacity: k * wide)
                        let product = UnsafeMutablePointer<Float>.allocate(capacity: cout * ldp)
                        defer { columns.deallocate(); product.deallocate() }
                        for b in 0..<n {
                            let x = xb + b * cin * h * w
                            if pointwise {
                                for c in 0..<cin { (columns + c * wide + b * p).update(from: x + c * p, count: p) }
                            } else {
                                Tensor.im2col(x, cin: cin, h: h, w: w, kh: kh, kw: kw, stride: stride, padding: padding,
                                              ho: ho, wo: wo, into: columns + b * p, rowStride: wide)
                            }
                        }
                        if !streamed || !BLAS.streamedProduct(m: cout, n: wide, k: k, a: wb, lda: k, b: columns, ldb: wide,
                                                               transposedB: false, c: product, ldc: ldp) {
                            BLAS.sgemm(transA: false, transB: false, m: cout, n: wide, k: k, a: wb, lda: k, b: columns, ldb: wide,
                                       c: product, ldc: ldp)
                        }
                        parallelFor(n * cout) { bo in
                            let b = bo / cout, o = bo % cout
                            let v = bias?.storage[o] ?? 0
                            let src = product + o * ldp + b * p, dst = yb + bo * p
                            for i in 0..<p { dst[i] = src[i] + v }
                        }
                    } else if n >= workers && workers > 1 {
                        // A whole image per core: no synchronisation inside small products.
                        parallelFor(n) { b in
                            let columns = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * p)
                            defer { columns?.deallocate() }
                            convolveImage(b, columns: columns, parallel: false)
                        }
                    } else {
                        let columns = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * p)
                        defer { columns?.deallocate() }
                        for b in 0..<n { convolveImage(b, columns: columns, parallel: true) }
                    }
                }
            }
        }
        return out
    }

    /// Whether this CPU runs `csd_direct_convolution`.
    static let directConvolutionAvailable = csd_direct_convolution_available() != 0

    /// Whether a convolution is computed directly (`csd_direct_convolution`) rather than as
    /// im2col + sgemm: output planes of 16×16 or more, and few enough channels that one block of
    /// the weights stays in cache. Measured per layer (`csd-bench`, 2 cores): the bundled prior's
    /// 3×3 convolutions (32–128 outputs) ran at 90–270 GFLOP/s unfolded and 290–400 direct, its
    /// stride-2 ones in 0.49 and 0.43 ms unfolded, 0.20 and 0.21 direct; SD's 320 → 320 at 32×32
    /// at 349 and 371 GFLOP/s (but stride 2: 3.8 ms unfolded, 4.8 direct), SD's 640-channel and
    /// 8×8 layers slower direct (126–308 against 279–376), and 320 → 4 (`conv_out`) at 20 and 166.
    ///
    /// Without AVX-512 the kernel's AVX2 variant holds half the sums and ran the prior's 3×3
    /// layers of 32+ channels at 40–60% of the unfolded product's rate, so there it takes only
    /// the small products the unfolded product runs poorly (2 images, 2 cores, an AVX2 EPYC):
    /// 32 → 3 on 64×64 in 0.13 ms against 0.81, 32 → 32 at stride 2 in 0.52 against 0.67, 3 → 32
    /// level (0.17 against 0.19); 64 → 64 at stride 2 went 0.53 against 0.46.
    static func usesDirectConvolution(cin: Int, cout: Int, stride: Int, plane: Int) -> Bool {
        guard directConvolutionAvailable, plane >= 256 else { return false }
        guard BLAS.Kernel.avx512Available else { return cin * cout <= 32 * 32 }
        return cout <= 128 || (stride == 1 && cout <= 320 && cin <= 320)
    }

    /// Convolution through `csd_direct_convolution` (`csd_direct_convolution_bf16` under bf16):
    /// one image per core, or each image's output channels split between the cores when there
    /// are fewer images than cores.
    func directlyConvolve(weight: Tensor, bias: Tensor?, stride: Int, padding: Padding2D, ho: Int, wo: Int, into out: inout Tensor) {
        let convolve = BLAS.Kernel.current == .avx512bf16 && csd_direct_convolution_bf16_available() != 0
            ? csd_direct_convolution_bf16 : csd_direct_convolution
        let (n, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let workers = Parallelism.workers
        let parts = n >= workers ? 1 : min(workers, max(1, cout / 8))
        storage.withUnsafeBufferPointer { xs in
            weight.storage.withUnsafeBufferPointer { ws in
                out.storage.withUnsafeMutableBufferPointer { ys in
                    (bias?.storage ?? []).withUnsafeBufferPointer { bs in
                        let (xb, wb, yb) = (xs.baseAddress!, ws.baseAddress!, ys.baseAddress!)
                        let biasBase = bias == nil ? nil : bs.baseAddress
                        parallelFor(n * parts) { job in
                            let b = job / parts, part = job % parts
                            let o0 = cout * part / parts, o1 = cout * (part + 1) / parts
                            let status = convolve(xb + b * cin * h * w, cin, h, w, wb, biasBase, cout,
                                                                kh, kw, stride, padding.top, padding.left, ho, wo, o0, o1,
                                                                yb + b * cout * ho * wo)
                            precondition(status == 0, "conv2d: out of memory for the direct convolution")
                        }
                    }
                }
            }
        }
    }

    /// Output planes up to this many cells are convolved for the whole batch in one product
    /// (`csd-bench`, SD shape: 4x4 planes ran at 144 GFLOP/s one image per core, 175 batched;
    /// 16x16 at 287 and 339; 32x32 planes were no faster batched).
    static let batchedPlaneLimit = 256

    /// Unfolds the patches of one CHW image into a [Cin·kh·kw, Ho·Wo] matrix whose rows are
    /// `rowStride` floats apart (Ho·Wo by default).
    static func im2col(_ x: UnsafePointer<Float>, cin: Int, h: Int, w: Int, kh: Int, kw: Int, stride: Int,
                       padding: Padding2D, ho: Int, wo: Int, into col: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        let p = rowStride ?? ho * wo
        parallelFor(cin * kh) { ck in
            let c = ck / kh, i = ck % kh
            let plane = x + c * h * w
            for j in 0..<kw {
                let row = col + ((c * kh + i) * kw + j) * p
                for oy in 0..<ho {
                    let iy = oy * stride + i - padding.top
                    let dst = row + oy * wo
                    if iy < 0 || iy >= h {
                        for ox in 0..<wo { dst[ox] = 0 }
                        continue
                    }
                    let src = plane + iy * w
                    if stride == 1 {
                        let shift = j - padding.left
                        let lo = max(0, -shift), hi = min(wo, w - shift)
                        for ox in 0..<min(lo, wo) { dst[ox] = 0 }
                        if hi > lo { (dst + lo).update(from: src + lo + shift, count: hi - lo) }
                        for ox in max(hi, 0)..<wo { dst[ox] = 0 }
                    } else {
                        for ox in 0..<wo {
                            let ix = ox * stride + j - padding.left
                            dst[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                        }
                    }
                }
            }
        }
    }

    /// For each of `outputs` positions, the one of `inputs` that nearest-neighbour resizing copies
    /// (torch's legacy `nearest`: ⌊i·in/out⌋).
    static func nearestSources(_ outputs: Int, of inputs: Int) -> [Int] {
        (0..<outputs).map { min(inputs - 1, Int((Double($0) * Double(inputs) / Double(outputs)).rounded(.down))) }
    }

    /// Nearest-neighbour resize of an NCHW tensor (`F.interpolate(mode="nearest")`).
    public func upsampleNearest(height ho: Int, width wo: Int) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        var out = Tensor(uninitialized: [n, c, ho, wo])
        let (xIndex, yIndex) = (Tensor.nearestSources(wo, of: w), Tensor.nearestSources(ho, of: h))
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { d in
                let sp = s.baseAddress!, dp = d.baseAddress!
                parallelFor(n * c) { nc in
                    let src = sp + nc * h * w, dst = dp + nc * ho * wo
                    for oy in 0..<ho {
                        let srow = src + yIndex[oy] * w, drow = dst + oy * wo
                        for ox in 0..<wo { drow[ox] = srow[xIndex[ox]] }
                    }
                }
            }
        }
        return out
    }
}
