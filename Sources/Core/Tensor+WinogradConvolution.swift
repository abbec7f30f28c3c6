import CVectorKernels

/// 3×3, stride-1 convolutions by Winograd's F(2×2, 3×3) (Lavin & Gray 2016): each 2×2 block of
/// outputs takes 16 multiplications per input channel instead of 36, as 16 matrix products
/// [cout, cin] · [cin, tiles] between the transforms of `WinogradConvolution.c`.
extension Tensor {
    /// Whether 3×3, stride-1 convolutions go through `winogradConvolve` (where
    /// `usesWinogradConvolution` picks it); benchmarks switch it off to compare in one run.
    nonisolated(unsafe) public static var winogradConvolution = true

    /// Whether the 16 products run on `csd_winograd_products` rather than `BLAS.sgemm`: on a CPU
    /// without AVX-512, where `BLAS.sgemm` is OpenBLAS's, whose packing and zeroing of C weigh on
    /// products over 32–256 input channels. On an AVX2 EPYC (2 images, 2 cores) the prior's
    /// convolutions took 0.82–0.90× the time (32 → 32 on 64×64 1.07 against 1.30 ms, 64 → 64 on
    /// 32×32 0.87 against 1.01, 128 → 128 on 16×16 1.05 against 1.17), 256 → 128 on 16×16 0.97×.
    static let winogradOwnProducts = !BLAS.Kernel.avx512Available && csd_winograd_products_available() != 0

    /// Tiles (2×2 output blocks) per job: one job's transformed input and products stay a few MB.
    static func winogradTileBlock(cin: Int, cout: Int) -> Int {
        max(64, min(1024, (1 << 20) / (16 * (cin + cout)) / 16 * 16))
    }

    /// Whether a convolution runs by Winograd: a 3×3 kernel at stride 1, 256 channels or more each
    /// way and a plane of 64×64 or more, as in a Stable Diffusion VAE. One image, 2 cores, both
    /// ways in turn (`csd-bench --winograd-shapes`, docs/notebook/performance.md): 512 channels at
    /// 64² 0.65–0.69× the time, at 128² 0.60–0.61×, 256 channels at 128² 0.62–0.63×; SD 1.x's VAE
    /// decoder 0.73–0.74×. SD's UNet layers were level (320 channels at 32², 640 at 16²: 0.94–1.05×),
    /// where the weights' transform and the few tiles weigh more, and the bundled prior's (32–128
    /// channels) slower. On a CPU without AVX-512, where the alternative is im2col and OpenBLAS's
    /// products or the direct kernel's slower AVX2 variant, 3×3 convolutions of 32 channels or
    /// more each way on planes of 16×16 or more go by Winograd too: on an AVX2 EPYC the prior's
    /// forward took 0.91× the time (67 → 61 ms) and its forward + backward 0.95×, SD's forward
    /// 0.94–0.97× (docs/performance.md, 2026-12-07). Planes of 8×8 followed once
    /// `winogradConvolveBatch` took them (2 images, `csd-bench --winograd-shapes` and the same
    /// layers in turn): SD's 1280 channels 0.87–0.96× the time, 640 0.83–0.99×, the prior's 128
    /// 0.82–0.86×, 64 0.93×.
    static func usesWinogradConvolution(kh: Int, kw: Int, stride: Int, cin: Int, cout: Int, plane: Int) -> Bool {
        guard winogradConvolution && kh == 3 && kw == 3 && stride == 1 else { return false }
        if BLAS.Kernel.avx512Available { return cin >= 256 && cout >= 256 && plane >= 4096 }
        return cin >= 32 && cout >= 32 && plane >= 64
    }

    /// Whether a 3×3, stride-1 convolution that goes by Winograd takes F(4×4, 3×3) rather than
    /// F(2×2, 3×3): where the CPU has AVX2 but not AVX-512 (the products run on
    /// `csd_winograd_products` there), on output planes of 32×32 or more, and of 16×16 or more from
    /// 320 input channels. 16×16 planes took F(4×4) once `winogradConvolveBatch` transformed their
    /// weights a few output channels at a time (2 images, 2 cores, in turn: SD's 640 → 640 0.70–0.77×
    /// F(2×2)'s time, 1280 → 1280 0.72–0.81×, 320 → 640 0.72×, 320 → 320 0.77×; the prior's
    /// 128 → 128, 256 → 256 and 128 → 256 level or slower, 1.03–1.35×); 8×8 planes, 4 tiles an
    /// image, were slower by F(4×4) (1280 → 1280 24.5 against 16.2 ms).
    static func usesWinogradF4(cin: Int, cout: Int, ho: Int, wo: Int) -> Bool {
        winogradF4 && winogradOwnProducts && csd_winograd4_available() != 0 && (ho * wo >= 1024 || ho * wo >= 256 && cin >= 320)
    }

    /// Whether `usesWinogradF4` may pick F(4×4, 3×3); benchmarks switch it off to compare.
    nonisolated(unsafe) public static var winogradF4 = true

    /// `self` [n, cin, h, w] convolved with `weight` [cout, cin, 3, 3] at stride 1 into `out`
    /// [n, cout, ho, wo], by F(4×4, 3×3) where `usesWinogradF4` says so (or `outputTile` is 4),
    /// else by F(2×2, 3×3). Jobs are blocks of one image's tiles, one per core at a time, each
    /// core with its own buffers, so nothing waits between the transforms and the products;
    /// every output is computed by one job, in the same order whatever the thread count.
    func winogradConvolve(weight: Tensor, bias: Tensor?, padding: Padding2D, ho: Int, wo: Int, into out: inout Tensor,
                          outputTile: Int? = nil) {
        let (n, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let cout = weight.shape[0]
        let size = outputTile ?? (Tensor.usesWinogradF4(cin: cin, cout: cout, ho: ho, wo: wo) ? 4 : 2)
        precondition(size == 2 || size == 4 && Tensor.winogradOwnProducts && csd_winograd4_available() != 0,
                     "conv2d: no F(\(size)×\(size), 3×3) Winograd on this CPU")
        let planes = (size + 2) * (size + 2)
        let (tilesHigh, tilesWide) = ((ho + size - 1) / size, (wo + size - 1) / size)
        let tiles = tilesHigh * tilesWide
        if Tensor.winogradOwnProducts && tiles < Tensor.winogradFewTiles {
            winogradConvolveBatch(weight: weight, size: size, bias: bias, padding: padding, ho: ho, wo: wo, into: &out)
            return
        }
        let block = min(tiles, Tensor.winogradTileBlock(cin: cin, cout: cout))
        let blocks = (tiles + block - 1) / block
        // Planes an odd number of cache lines apart, as `csd_winograd_products_from_weights` lays
        // them out: a multiple of 4 KiB apart (320 · 320 channels), the transform's stores to its
        // planes fell into one set of the first-level cache.
        let ldu = csd_winograd_plane(cout, cin)
        var transformed = Tensor(uninitialized: [planes * ldu])
        weight.storage.withUnsafeBufferPointer { g in
            transformed.storage.withUnsafeMutableBufferPointer { u in
                let (gp, up) = (g.baseAddress!, u.baseAddress!)
                let parts = min(cout, 2 * Parallelism.workers)
                parallelFor(parts) { part in
                    let (o0, o1) = (cout * part / parts, cout * (part + 1) / parts)
                    (size == 4 ? csd_winograd4_weights : csd_winograd_weights)(gp, cout, cin, o0, o1, up, ldu)
                }
            }
        }
        storage.withUnsafeBufferPointer { xs in
            transformed.storage.withUnsafeBufferPointer { us in
                out.storage.withUnsafeMutableBufferPointer { ys in
                    (bias?.storage ?? []).withUnsafeBufferPointer { bs in
                        let (xb, ub, yb) = (xs.baseAddress!, us.baseAddress!, ys.baseAddress!)
                        let biasBase = bias == nil ? nil : bs.baseAddress
                        // Each core takes every `workers`-th job with one pair of buffers for all of
                        // them (a pair per job was a fresh mapping, and its page faults, each time).
                        let jobs = n * blocks, workers = min(Parallelism.workers, jobs)
                        parallelFor(workers) { worker in
                            // Rows one 64-byte line longer than the block: rows a power of two
                            // apart would share the first-level cache's sets in the own products.
                            let ld = block + 16
                            let v = UnsafeMutablePointer<Float>.allocate(capacity: planes * csd_winograd_plane(cin, ld))
                            let m = UnsafeMutablePointer<Float>.allocate(capacity: planes * csd_winograd_plane(cout, ld))
                            defer { v.deallocate(); m.deallocate() }
                            for job in stride(from: worker, to: jobs, by: workers) {
                                let (b, t0) = (job / blocks, job % blocks * block)
                                let t1 = min(tiles, t0 + block)
                                let (x, y) = (xb + b * cin * h * w, yb + b * cout * ho * wo)
                                let read = (size == 4 ? csd_winograd4_input : csd_winograd_input)(
                                    x, cin, h, w, padding.top, padding.left, tilesWide, t0, t1, v, ld)
                                precondition(read == 0, "conv2d: out of memory for Winograd's input transform")
                                if !Tensor.winogradOwnProducts
                                    || csd_winograd_products(ub, ldu, v, m, cout, cin, t1 - t0, ld, ld, planes, 0, cout) != 0 {
                                    for xi in 0..<planes {
                                        BLAS.sgemm(transA: false, transB: false, m: cout, n: t1 - t0, k: cin, a: ub + xi * ldu,
                                                   lda: cin, b: v + xi * csd_winograd_plane(cin, ld), ldb: ld, c: m + xi * csd_winograd_plane(cout, ld), ldc: ld,
                                                   parallel: false)
                                    }
                                }
                                let written = (size == 4 ? csd_winograd4_output : csd_winograd_output)(
                                    m, cout, ld, tilesWide, t0, t1, ho, wo, biasBase, y)
                                precondition(written == 0, "conv2d: out of memory for Winograd's output transform")
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// Images with fewer tiles than this (planes under 16×16 by F(2×2, 3×3), under 32×32 by
    /// F(4×4, 3×3)) are convolved by `winogradConvolveBatch`, in groups of images of up to
    /// `winogradBatchTiles` tiles.
    static let winogradFewTiles = 64, winogradBatchTiles = 256

    /// `winogradConvolve` for small planes, on CPUs where the products are
    /// `csd_winograd_products`: a group of images' tiles in one block, and the products split
    /// between the cores by output channel, so that each core reads its share of the transformed
    /// weights once per 16 tiles rather than every core all of them for each image. The input and
    /// output transforms run an image per core. The groups (of `winogradBatchTiles` tiles at most,
    /// so the transformed block stays within `planes` · 256 floats a channel) follow from the shape
    /// alone: every output is summed in the same order whatever the thread count. The weights are
    /// transformed a few output channels at a time inside the products
    /// (`csd_winograd_products_from_weights`), never whole: F(4×4, 3×3)'s 36 planes of them, 236 MB
    /// at 1280 channels, made it slower than F(2×2, 3×3) on 16×16 planes until then, and faster after.
    func winogradConvolveBatch(weight: Tensor, size: Int, bias: Tensor?, padding: Padding2D, ho: Int, wo: Int,
                               into out: inout Tensor) {
        let (n, cin, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (planes, cout) = ((size + 2) * (size + 2), weight.shape[0])
        let tilesWide = (wo + size - 1) / size
        let tiles = (ho + size - 1) / size * tilesWide
        let group = min(n, max(1, Tensor.winogradBatchTiles / tiles))
        let ld = group * tiles + 16
        let v = UnsafeMutablePointer<Float>.allocate(capacity: planes * csd_winograd_plane(cin, ld))
        let m = UnsafeMutablePointer<Float>.allocate(capacity: planes * csd_winograd_plane(cout, ld))
        defer { v.deallocate(); m.deallocate() }
        storage.withUnsafeBufferPointer { xs in
            weight.storage.withUnsafeBufferPointer { gs in
                out.storage.withUnsafeMutableBufferPointer { ys in
                    (bias?.storage ?? []).withUnsafeBufferPointer { bs in
                        let (xb, gb, yb) = (xs.baseAddress!, gs.baseAddress!, ys.baseAddress!)
                        let biasBase = bias == nil ? nil : bs.baseAddress
                        for first in stride(from: 0, to: n, by: group) {
                            let images = min(group, n - first)
                            parallelFor(images) { i in
                                let x = xb + (first + i) * cin * h * w, vb = v + i * tiles
                                let read = (size == 4 ? csd_winograd4_input : csd_winograd_input)(
                                    x, cin, h, w, padding.top, padding.left, tilesWide, 0, tiles, vb, ld)
                                precondition(read == 0, "conv2d: out of memory for Winograd's input transform")
                            }
                            let parts = min(cout, Parallelism.workers)
                            parallelFor(parts) { part in
                                let status = csd_winograd_products_from_weights(
                                    gb, cout, cin, Int32(size), v, m, images * tiles, ld, ld, cout * part / parts, cout * (part + 1) / parts)
                                precondition(status == 0, "conv2d: out of memory for Winograd's products")
                            }
                            parallelFor(images) { i in
                                let (mb, y) = (m + i * tiles, yb + (first + i) * cout * ho * wo)
                                let written = (size == 4 ? csd_winograd4_output : csd_winograd_output)(
                                    mb, cout, ld, tilesWide, 0, tiles, ho, wo, biasBase, y)
                                precondition(written == 0, "conv2d: out of memory for Winograd's output transform")
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// Whether the weight gradient of a convolution goes by Winograd (`winogradWeightGradient`): on a
    /// CPU without AVX-512, wherever its forward does on planes of 16×16 or more (8×8 planes, which
    /// the forward takes in batches, were not measured and keep the unfolded product). On an AVX2 EPYC (2 images, 2 cores), against
    /// the direct kernel or the unfolded product, after the transforms were vectorised and their 16
    /// planes set an odd number of cache lines apart: 128 → 128 on 16×16 0.69 ms against 1.14,
    /// 256 → 128 1.31 against 2.27, 128 → 128 on 32×32 2.33 against 3.89, 64 → 64 on 64×64 3.11
    /// against 3.95, 32 → 32 0.98 both; SD's 320 → 320 on 32×32 13.5 both (19.2 against 28.3 before
    /// the direct kernel's chunks).
    /// It holds the transformed images and output gradients, 4 · (cin + cout) · images · plane
    /// floats, at most `winogradWeightGradientLimit` (256 MiB): a VAE's 128-channel layers at
    /// 512×512 would hold 1 GiB and keep the direct kernel; SD's UNet layers at a 64×64 latent,
    /// batch 2, hold 84 MB.
    static func usesWinogradWeightGradient(kh: Int, kw: Int, stride: Int, cin: Int, cout: Int, images: Int, plane: Int) -> Bool {
        !BLAS.Kernel.avx512Available && usesWinogradConvolution(kh: kh, kw: kw, stride: stride, cin: cin, cout: cout, plane: plane)
            && plane >= 256 && 4 * (cin + cout) * images * plane <= winogradWeightGradientLimit
    }

    /// Floats of transformed images and output gradients up to which a weight gradient goes by Winograd.
    static let winogradWeightGradientLimit = 1 << 26

    /// The weight gradient of a 3×3, stride-1 convolution by Winograd's F(2×2, 3×3), the adjoint of
    /// `winogradConvolve`: dU_ξ = Σ_tiles (A dY Aᵀ)_ξ · (Bᵀ d B)_ξ over every tile of every image, 16
    /// products [cout, tiles] · [tiles, cin], then dg = Gᵀ dU G. Each product sums the tiles in one
    /// fixed order, so the result does not depend on the number of threads. The transformed images
    /// and output gradients it holds are 4× the layer's input and output (the unfolded product's
    /// patches are 9× its input).
    static func winogradWeightGradient(_ dy: Tensor, input x: Tensor, weight: Tensor, padding: Padding2D) -> Tensor {
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, ho, wo) = (weight.shape[0], dy.shape[2], dy.shape[3])
        let tilesWide = (wo + 1) / 2, tiles = (ho + 1) / 2 * tilesWide, total = n * tiles
        // Rows a cache line longer than a multiple of 16 floats, as in the forward.
        let ld = (total + 15) / 16 * 16 + 16
        let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * csd_winograd_plane(cin, ld))
        let m = UnsafeMutablePointer<Float>.allocate(capacity: 16 * csd_winograd_plane(cout, ld))
        let du = UnsafeMutablePointer<Float>.allocate(capacity: 16 * cout * cin)
        defer { v.deallocate(); m.deallocate(); du.deallocate() }
        x.storage.withUnsafeBufferPointer { xs in
            dy.storage.withUnsafeBufferPointer { gs in
                let (xb, gb) = (xs.baseAddress!, gs.baseAddress!)
                parallelFor(2 * n) { job in
                    let b = job % n
                    if job < n {
                        let read = csd_winograd_input(xb + b * cin * h * w, cin, h, w, padding.top, padding.left, tilesWide, 0, tiles,
                                                      v + b * tiles, ld)
                        precondition(read == 0, "conv2d gradient: out of memory for Winograd's input transform")
                    } else {
                        csd_winograd_output_gradient(gb + b * cout * ho * wo, cout, ho, wo, tilesWide, 0, tiles, m + b * tiles, ld)
                    }
                }
            }
        }
        parallelFor(16) { xi in
            BLAS.sgemm(transA: false, transB: true, m: cout, n: cin, k: total, a: m + xi * csd_winograd_plane(cout, ld), lda: ld,
                       b: v + xi * csd_winograd_plane(cin, ld), ldb: ld, c: du + xi * cout * cin, ldc: cin, parallel: false)
        }
        var dw = Tensor(uninitialized: weight.shape)
        dw.storage.withUnsafeMutableBufferPointer { d in
            csd_winograd_weight_gradient(du, cout, cin, d.baseAddress!)
        }
        return dw
    }
}
