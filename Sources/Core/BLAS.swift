import COpenBLAS
import Foundation

/// Access to OpenBLAS, with its kernel set chosen for this CPU.
///
/// Debian's OpenBLAS 0.3.21 does not know AMD Zen 4/5 and falls back to its Haswell kernels,
/// although these CPUs run the SkylakeX (AVX-512) kernels 1.5–2x faster. The library reads
/// `OPENBLAS_CORETYPE` only while it initialises, so `prepare()` sets it (when the user has not)
/// and re-runs the library's own `gotoblas_dynamic_init`, before any BLAS call is made.
public enum BLAS {
    private static let prepared: String = {
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_CORETYPE"] == nil, cpuHasAVX512(), currentCoreName().lowercased() != "skylakex",
           currentCoreName().lowercased() != "cooperlake" {
            setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 0)
            gotoblas_dynamic_quit()
            gotoblas_dynamic_init()
        }
        return currentCoreName()
    }()

    /// Chooses the kernel set (once) and returns OpenBLAS's name for it.
    @discardableResult
    public static func prepare() -> String { prepared }

    /// The kernel set OpenBLAS uses now.
    public static func currentCoreName() -> String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Threads OpenBLAS uses.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// Runs `body` with OpenBLAS on one thread, for code that parallelises around BLAS calls
    /// itself. Only call it from the top level (not from inside a parallel region).
    public static func singleThreaded<R>(_ body: () -> R) -> R {
        _ = prepared
        let previous = threadCount
        if previous == 1 { return body() }
        threadCount = 1
        defer { threadCount = previous }
        return body()
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

    /// Row-major `C = alpha·op(A)·op(B) + beta·C`, with `op` a transpose where asked.
    @inline(__always)
    public static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = prepared
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
