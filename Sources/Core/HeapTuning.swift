import CMalloc

/// Keeps freed memory in the process for the next tensor of the same size.
///
/// glibc returns large blocks to the kernel on `free` (they are `mmap`ed, or trimmed off the top
/// of the heap), so every new activation tensor page-faults its memory in again: on a 24-frame
/// edit that was a quarter of the run, spent in the kernel on one core. With `mmap` off for
/// `malloc` and trimming off (`M_TRIM_THRESHOLD` −1), a step reuses the previous step's blocks.
/// Measured on the sample edit (2 cores): 0.147 → 0.125 s per frame-step, system time 7.0 →
/// 0.5 s. The largest threshold `mallopt` takes, 2 GiB, was not enough: the SD-shaped UNet's
/// backward frees more than that at its end (3.3 GB of parameter gradients), and faulted about
/// 2.3 GB back in on every run, 10.2 s → 7.5 s with trimming off (`csd-bench --backward`).
public enum HeapTuning {
    private static let applied: Bool = {
        mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1
    }()

    /// Applies the settings once; returns whether the C library took them.
    @discardableResult
    public static func keepFreedMemory() -> Bool { applied }
}
