import CVectorKernels

/// The number format of the runtime's matrix products (convolutions, linear layers).
///
/// `fp32` computes them in single precision. `bf16` rounds both operands of each product to
/// bfloat16 and sums in fp32, as PyTorch's CPU autocast (`torch.autocast("cpu", torch.bfloat16)`)
/// does; norms, softmax, attention, residuals and everything else stay fp32. bf16 runs on CPUs
/// with AVX512-BF16 (`vdpbf16ps`, two products per lane and instruction); elsewhere it is refused.
public enum ComputePrecision: String, CaseIterable, Codable, Sendable {
    case fp32, bf16

    /// Whether this CPU can compute in this precision.
    public var isAvailable: Bool {
        switch self {
        case .fp32: return true
        case .bf16: return csd_sgemm_bf16_available() != 0
        }
    }

    /// The precision the calling thread's products use; `fp32` unless set. It is kept per
    /// thread, so concurrent model runs may use different precisions, and `parallelFor` carries
    /// the caller's to the threads that run its loop.
    public static var current: ComputePrecision {
        get { csd_thread_precision() == 1 ? .bf16 : .fp32 }
        set { csd_set_thread_precision(newValue == .bf16 ? 1 : 0) }
    }

    /// Runs `body` with `current` set to `precision`, then restores it.
    public static func with<T>(_ precision: ComputePrecision, _ body: () throws -> T) rethrows -> T {
        let saved = current
        current = precision
        defer { current = saved }
        return try body()
    }
}
