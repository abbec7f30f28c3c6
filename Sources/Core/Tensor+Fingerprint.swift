/// A hash of tensors' exact bits: binds a checkpoint to its input, and shows that two runs
/// computed the same values.
extension Tensor {
    /// FNV-1a (64 bits) over the shapes and every value's bit pattern, as hex.
    public static func fingerprint(_ tensors: [Tensor]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64) { hash = (hash ^ v) &* 0x100_0000_01b3 }
        for tensor in tensors {
            for d in tensor.shape { mix(UInt64(truncatingIfNeeded: d)) }
            for v in tensor.storage { mix(UInt64(v.bitPattern)) }
        }
        return String(hash, radix: 16)
    }
}
