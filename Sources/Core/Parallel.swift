import Dispatch
import Foundation

/// Splits `0..<count` into contiguous chunks run on all cores; small jobs run inline.
@inline(__always)
public func parallelChunks(_ count: Int, minimumChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
    let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(1, count / max(1, minimumChunk)))
    if workers <= 1 {
        body(0..<count)
        return
    }
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let start = w * chunk
        let end = min(count, start + chunk)
        if start < end { body(start..<end) }
    }
}

/// Runs `body(i)` for every `i` in `0..<count`, spread over the cores.
@inline(__always)
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 {
        if count == 1 { body(0) }
        return
    }
    let workers = min(ProcessInfo.processInfo.activeProcessorCount, count)
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let start = w * chunk
        let end = min(count, start + chunk)
        var i = start
        while i < end { body(i); i += 1 }
    }
}
