import COpenBLAS
import CVectorKernels
import Foundation

/// Matrix products: OpenBLAS with its kernel set chosen for this CPU, the project's own AVX-512
/// `csd_sgemm` where OpenBLAS was told to use less than the CPU has (`FP32Kernels`), and
/// `csd_sgemm_bf16` under `ComputePrecision.bf16`.
///
/// Debian's OpenBLAS 0.3.21 does not know AMD Zen 4/5 and falls back to its Haswell kernels,
/// although these CPUs run the SkylakeX (AVX-512) kernels 1.5–2x faster. The library reads
/// `OPENBLAS_CORETYPE` only while it initialises, so `prepare()` sets it (when the user has not)
/// and re-runs the library's own `gotoblas_dynamic_init`, before any BLAS call is made.
/// OpenBLAS runs on one thread; `sgemm` spreads tiles over the cores itself. Preparing also
/// applies `HeapTuning`, since every model run starts here.
public enum BLAS {
    private static let prepared: String = {
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_CORETYPE"] == nil, cpuHasAVX512(), currentCoreName().lowercased() != "skylakex",
           currentCoreName().lowercased() != "cooperlake" {
            setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 0)
            gotoblas_dynamic_quit()
            gotoblas_dynamic_init()
        }
        // OpenBLAS's own threads would sum some products in an order that depends on how many
        // there are; `sgemm` splits the work itself instead (see there).
        openblas_set_num_threads(1)
        HeapTuning.keepFreedMemory()
        return currentCoreName()
    }()

    /// Chooses the kernel set and tunes the heap (once); returns OpenBLAS's name for the kernels.
    @discardableResult
    public static func prepare() -> String { prepared }

    /// The kernel set OpenBLAS uses now.
    public static func currentCoreName() -> String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    static func cpuHasAVX512() -> Bool {
        // /proc files report size 0, so read to the end of the stream rather than by size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/cpuinfo") else { return false }
        defer { try? handle.close() }
        let info = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        guard let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let flags = Set(flagsLine.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        return ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
    }

    /// Which code computes the products.
    enum Kernel {
        case avx512, avx512bf16, openBLAS

        static let avx512Available = csd_sgemm_available() != 0

        /// Whether OpenBLAS runs its own AVX-512 kernels (it does unless `OPENBLAS_CORETYPE`
        /// chose others): they were 5–10% faster than `csd_sgemm` on 2048³ here.
        static let openBLASHasAVX512 = ["skylakex", "cooperlake", "sapphirerapids"].contains(currentCoreName().lowercased())

        /// The kernel for `ComputePrecision.current`; bf16 falls back to fp32 where the CPU lacks it.
        static var current: Kernel {
            _ = prepared
            if ComputePrecision.current == .bf16 && csd_sgemm_bf16_available() != 0 { return .avx512bf16 }
            switch fp32Kernels {
            case .automatic: return avx512Available && !openBLASHasAVX512 ? .avx512 : .openBLAS
            case .own: return avx512Available ? .avx512 : .openBLAS
            case .openBLAS: return .openBLAS
            }
        }
    }

    /// Who computes fp32 products.
    public enum FP32Kernels: Sendable {
        /// OpenBLAS where it runs AVX-512 kernels, else `csd_sgemm` where the CPU has AVX-512
        /// (as when `OPENBLAS_CORETYPE=Haswell` is set on an AVX-512 CPU), else OpenBLAS.
        case automatic
        /// `csd_sgemm` where the CPU has AVX-512.
        case own
        /// Always OpenBLAS.
        case openBLAS
    }

    /// Who computes fp32 products; benchmarks set it to compare the kernels in one run.
    nonisolated(unsafe) public static var fp32Kernels = FP32Kernels.automatic

    /// The name of the kernels products use now, for reports.
    public static func kernelName() -> String {
        switch Kernel.current {
        case .avx512: return "csd avx512 fp32"
        case .avx512bf16: return "csd avx512 bf16"
        case .openBLAS: return "openblas " + currentCoreName()
        }
    }

    /// Products at least this large (multiply-adds) are split into tiles.
    static let tiledWork = 1 << 20
    /// Tile sizes: columns of C when it is wide, else rows. Each tile is one OpenBLAS call that
    /// packs its own copy of B, so tall products with few columns (the prior's 512 × 128 · 128 ×
    /// 128 attention projections) want few, tall tiles: 64-row tiles took its linear layers 6.4 ms
    /// per forward, 256-row ones 5.7 (`csd-bench`, prior shape; the SD shape did not change).
    static let columnTile = 256, rowTile = 256

    /// Products with a small C but long sums (a convolution's weight gradient over every pixel of
    /// a batch: 64 × 576 from 8192 terms) are split along k instead, in chunks of at least this
    /// many terms: tiles of C would leave a core idle or give it too little to do.
    static let reductionChunk = 512
    /// The largest C (floats) that is split along k; each chunk has its own copy. On OpenBLAS's
    /// AVX2 kernels (a CPU without AVX-512) only a C of up to 64 Ki floats: there, SD's linear
    /// layers (C of 164 Ki–655 Ki floats, 1280–5120 terms) took 9–24% longer in chunks than in tiles
    /// of C (2 cores, in turn: 512 × 640 from 2560 terms 13.6 against 10.9 ms, 128 × 1280 from 5120
    /// 11.4 against 10.4), and so did weight-gradient shapes (256 × 2304 from 2048 terms 15.8
    /// against 14.1 ms).
    static var reductionLimit: Int {
        Kernel.current == .openBLAS && !Kernel.openBLASHasAVX512 ? 1 << 16 : 1 << 20
    }

    /// How many chunks of k a product of this shape is summed in: one unless it is large, its C
    /// small and k long; at most 8. Chosen from the shape (and the kernels) alone, so the sums are
    /// the same whatever the number of threads.
    static func reductionChunks(m: Int, n: Int, k: Int) -> Int {
        guard m * n * k >= tiledWork, m * n <= reductionLimit else { return 1 }
        return max(1, min(8, k / reductionChunk))
    }

    /// `C = alpha·Σ_i op(A)_i·op(B)_i + beta·C` over fixed chunks i of k: each chunk's product
    /// into its own buffer (in parallel where asked), then summed in chunk order.
    static func sumOfChunks(_ chunks: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool) {
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: chunks * m * n)
        defer { partials.deallocate() }
        let loop: (Int, (Int) -> Void) -> Void = parallel ? { parallelFor($0, $1) } : { for i in 0..<$0 { $1(i) } }
        loop(chunks) { i in
            let k0 = k * i / chunks, k1 = k * (i + 1) / chunks
            let ap = transA ? a + k0 * lda : a + k0
            let bp = transB ? b + k0 : b + k0 * ldb
            tiledProduct(transA: transA, transB: transB, m: m, n: n, k: k1 - k0, alpha: 1, a: ap, lda: lda, b: bp, ldb: ldb,
                         beta: 0, c: partials + i * m * n, ldc: n, parallel: false)
        }
        loop(m) { row in
            let target = c + row * ldc
            for column in 0..<n {
                var sum: Float = 0
                for i in 0..<chunks { sum += partials[(i * m + row) * n + column] }
                target[column] = beta == 0 ? alpha * sum : alpha * sum + beta * target[column]
            }
        }
    }

    /// Row-major `C = alpha·op(A)·op(B) + beta·C`, with `op` a transpose where asked.
    ///
    /// Large products are cut into fixed tiles of C, or (small C, long sums) into fixed chunks of
    /// k summed in order, both chosen from the shape alone; each piece is one single-threaded
    /// kernel call, so every element of C is summed in the same order whatever the number of
    /// threads: a seed gives the same result on any machine. With `parallel` the pieces run on
    /// all cores; callers already inside a parallel loop pass false.
    @inline(__always)
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true
    ) {
        let chunks = reductionChunks(m: m, n: n, k: k)
        if chunks > 1 {
            sumOfChunks(chunks, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                        b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, parallel: parallel)
        } else {
            tiledProduct(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                         beta: beta, c: c, ldc: ldc, parallel: parallel)
        }
    }

    /// How many tiles a side of `length` rows or columns is cut into: tiles of about `tile`, and
    /// an even number of them (at least two) when the side is 32 or more, so that two cores get
    /// the same work. From the shape alone, so the sums are the same whatever the number of
    /// threads. A 128 × 128 product over 512 terms (the weight gradients of the prior's attention
    /// projections) ran on one core as one tile, and 1152 columns cut by 256 gave 5 tiles, 3 on
    /// one core and 2 on the other.
    static func tileCount(_ length: Int, tile: Int) -> Int {
        guard length >= 32 else { return 1 }
        let count = max(2, (length + tile - 1) / tile)
        return count + count % 2
    }

    /// Where tile `index` of `count` begins along a side of `length`: at a multiple of 16 (the
    /// kernels' vector width), the last tile ending at `length`.
    static func tileStart(_ index: Int, of count: Int, length: Int) -> Int {
        index >= count ? length : index * length / count / 16 * 16
    }

    /// `sgemm` cut into fixed tiles of C.
    static func tiledProduct(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                             lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>,
                             ldc: Int, parallel: Bool) {
        _ = prepared
        let kernel = Kernel.current
        func call(_ rows: Range<Int>, _ columns: Range<Int>) {
            let ap = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            let bp = transB ? b + columns.lowerBound * ldb : b + columns.lowerBound
            let cp = c + rows.lowerBound * ldc + columns.lowerBound
            switch kernel {
            case .avx512:
                if csd_sgemm(transA ? 1 : 0, transB ? 1 : 0, rows.count, columns.count, k, alpha, ap, lda, bp, ldb,
                             beta, cp, ldc) == 0 { return }
            case .avx512bf16:
                if csd_sgemm_bf16(transA ? 1 : 0, transB ? 1 : 0, rows.count, columns.count, k, alpha, ap, lda, bp, ldb,
                                  beta, cp, ldc) == 0 { return }
            case .openBLAS: break
            }
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(columns.count), Int32(k), alpha, ap, Int32(lda), bp, Int32(ldb), beta,
                        c + rows.lowerBound * ldc + columns.lowerBound, Int32(ldc))
        }
        let splitsColumns = n >= 2 * columnTile || (m < 2 * rowTile && n >= m)
        let side = splitsColumns ? n : m
        let tiles = m * n * k < tiledWork ? 1 : tileCount(side, tile: splitsColumns ? columnTile : rowTile)
        let span = { (i: Int) in tileStart(i, of: tiles, length: side)..<tileStart(i + 1, of: tiles, length: side) }
        let tile: (Int) -> (Range<Int>, Range<Int>) = splitsColumns ? { i in (0..<m, span(i)) } : { i in (span(i), 0..<n) }
        if parallel && tiles > 1 {
            parallelFor(tiles) { i in let (r, cl) = tile(i); call(r, cl) }
        } else {
            for i in 0..<tiles { let (r, cl) = tile(i); call(r, cl) }
        }
    }
}
