import CVectorKernels
/// Group norm and layer norm, matching `torch.nn.GroupNorm` and `torch.nn.LayerNorm`.
extension Tensor {
    /// Mean and biased variance of `n` values (`csd_moments`: 16 lanes, folded in Double).
    @inline(__always)
    static func moments(_ p: UnsafePointer<Float>, _ n: Int) -> (mean: Float, variance: Float) {
        var mean: Float = 0, variance: Float = 0
        csd_moments(p, n, &mean, &variance)
        return (mean, variance)
    }

    /// Group normalisation of an N×C×… tensor over `groups` channel groups, with a per-channel
    /// affine `weight`/`bias` (either may be nil), followed by SiLU in the same pass when
    /// `thenSiLU` (`F.silu(F.group_norm(…))`, as every diffusers ResNet block does).
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float, thenSiLU: Bool = false) -> Tensor {
        Profiler.measure(.normalization, flops: 0) {
            groupNormUnprofiled(groups: groups, weight: weight, bias: bias, eps: eps, thenSiLU: thenSiLU)
        }
    }

    func groupNormUnprofiled(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float, thenSiLU: Bool) -> Tensor {
        let n = shape[0], c = shape[1]
        precondition(c % groups == 0, "groupNorm: \(c) channels do not split into \(groups) groups")
        let spatial = count / (n * c)
        let perGroup = c / groups
        var out = Tensor(uninitialized: shape)
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { d in
                let sp = s.baseAddress!, dp = d.baseAddress!
                let w = weight?.storage, b = bias?.storage
                parallelFor(n * groups) { ng in
                    let base = ng * perGroup * spatial
                    let (mean, variance) = Tensor.moments(sp + base, perGroup * spatial)
                    let inv = 1 / (variance + eps).squareRoot()
                    let g = ng % groups
                    for cc in 0..<perGroup {
                        let ch = g * perGroup + cc
                        let scale = inv * (w?[ch] ?? 1)
                        let shift = (b?[ch] ?? 0) - mean * scale
                        csd_affine_silu(sp + base + cc * spatial, dp + base + cc * spatial, spatial, scale, shift,
                                        thenSiLU ? 1 : 0)
                    }
                }
            }
        }
        return out
    }

    /// Layer normalisation over the last axis.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        Profiler.measure(.normalization, flops: 0) { layerNormUnprofiled(weight: weight, bias: bias, eps: eps) }
    }

    func layerNormUnprofiled(weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
        let dim = shape[shape.count - 1]
        let rows = count / dim
        var out = Tensor(uninitialized: shape)
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { d in
                (weight?.storage ?? []).withUnsafeBufferPointer { ws in
                    (bias?.storage ?? []).withUnsafeBufferPointer { bs in
                        let sp = s.baseAddress!, dp = d.baseAddress!
                        let w = weight == nil ? nil : ws.baseAddress, b = bias == nil ? nil : bs.baseAddress
                        parallelChunks(rows, minimumChunk: 16) { range in
                            for r in range {
                                let (mean, variance) = Tensor.moments(sp + r * dim, dim)
                                let inv = 1 / (variance + eps).squareRoot()
                                csd_normalize_row(sp + r * dim, dp + r * dim, dim, mean, inv, w, b)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Softmax over a row of `n` values, in place, vectorised.
    @inline(__always)
    static func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        let sum = exponentiateRow(p, n)
        guard sum > 0 else { return }
        let inv = 1 / sum
        let vinv = SIMD16<Float>(repeating: inv)
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) * vinv
            UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n { p[i] *= inv; i += 1 }
    }

    /// Replaces a row by `exp(x − max(x))` and returns its sum: softmax without the division,
    /// which callers can apply to something smaller. A row of −∞ becomes zeros (sum 0).
    /// Runs in C (`csd_exponentiate_row`), compiled for the CPU's widest vectors.
    @inline(__always)
    static func exponentiateRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        csd_exponentiate_row(p, n)
    }

    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        let dim = shape[shape.count - 1]
        var out = self
        out.storage.withUnsafeMutableBufferPointer { d in
            let dp = d.baseAddress!
            parallelChunks(count / dim, minimumChunk: 8) { range in
                for r in range { Tensor.softmaxRow(dp + r * dim, dim) }
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
