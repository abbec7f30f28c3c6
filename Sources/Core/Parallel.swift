import CThreadPool
import Foundation

/// How many threads the kernels use: every core by default, or `CSD_THREADS` from the
/// environment. Results do not depend on it (each output element is always summed in the same
/// order), so a seed gives the same edit on any machine size; tests check this.
public enum Parallelism {
    /// Threads for the Swift kernels (and OpenBLAS, when `CSD_THREADS` is set).
    public static let workers: Int = {
        if let text = ProcessInfo.processInfo.environment["CSD_THREADS"], let n = Int(text), n >= 1 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }()
}

/// Splits `0..<count` into contiguous chunks run on all cores; small jobs run inline.
@inline(__always)
public func parallelChunks(_ count: Int, minimumChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
    let workers = min(Parallelism.workers, max(1, count / max(1, minimumChunk)))
    if workers <= 1 {
        body(0..<count)
        return
    }
    let chunk = (count + workers - 1) / workers
    parallelFor(workers) { w in
        let start = w * chunk
        let end = min(count, start + chunk)
        if start < end { body(start..<end) }
    }
}

/// Runs `body(i)` for every `i` in `0..<count`, spread over the cores by the spinning thread
/// pool of `CThreadPool` (one contiguous chunk of indices per thread), each under the caller's
/// `ComputePrecision.current`. Calls from inside a running loop run inline.
@inline(__always)
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 || Parallelism.workers <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    let precision = ComputePrecision.current
    withoutActuallyEscaping(body) { body in
        var closure: (Int) -> Void = { i in
            if ComputePrecision.current != precision { ComputePrecision.current = precision }
            body(i)
        }
        withUnsafeMutablePointer(to: &closure) { pointer in
            csd_parallel_run(Parallelism.workers, count, pointer) { context, index in
                context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
            }
        }
    }
}
