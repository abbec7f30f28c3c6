import Foundation
import CVectorKernels

/// Element-wise maps and arithmetic, vectorised with SIMD16 and split over the cores.
extension Tensor {
    /// Applies `simd` to 16-wide chunks and `scalar` to the tail, in parallel.
    @inline(__always)
    func mapped(_ simd: (SIMD16<Float>) -> SIMD16<Float>, _ scalar: (Float) -> Float) -> Tensor {
        Profiler.measure(.elementwise, flops: 0) { mappedUnprofiled(simd, scalar) }
    }

    @inline(__always)
    func mappedUnprofiled(_ simd: (SIMD16<Float>) -> SIMD16<Float>, _ scalar: (Float) -> Float) -> Tensor {
        var out = Tensor(uninitialized: shape)
        let n = count
        storage.withUnsafeBufferPointer { src in
            out.storage.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                parallelChunks(n / 16, minimumChunk: 1024) { range in
                    for c in range {
                        let v = UnsafeRawPointer(s + c * 16).loadUnaligned(as: SIMD16<Float>.self)
                        UnsafeMutableRawPointer(d + c * 16).storeBytes(of: simd(v), as: SIMD16<Float>.self)
                    }
                }
                for i in (n / 16) * 16 ..< n { d[i] = scalar(s[i]) }
            }
        }
        return out
    }

    /// Applies a C kernel `(src, dst, n)` from CVectorKernels to chunks split over the cores.
    @inline(__always)
    func mapped(byKernel kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        Profiler.measure(.elementwise, flops: 0) {
            var out = Tensor(uninitialized: shape)
            storage.withUnsafeBufferPointer { src in
                out.storage.withUnsafeMutableBufferPointer { dst in
                    let s = src.baseAddress!, d = dst.baseAddress!
                    parallelChunks(count, minimumChunk: 16384) { r in
                        kernel(s + r.lowerBound, d + r.lowerBound, r.count)
                    }
                }
            }
            return out
        }
    }

    /// `x·sigmoid(x)` (SiLU / swish), by `csd_affine_silu` (AVX-512 where the CPU has it).
    public func silu() -> Tensor {
        mapped(byKernel: { csd_affine_silu($0, $1, $2, 1, 0, 1) })
    }

    /// Exact GELU, `0.5·x·(1 + erf(x/√2))`, by `csd_gelu` (AVX-512 where the CPU has it).
    public func gelu() -> Tensor {
        mapped(byKernel: { csd_gelu($0, $1, $2) })
    }

    /// GELU with the tanh approximation (`gelu_pytorch_tanh`).
    public func geluTanh() -> Tensor {
        let c: Float = 0.7978845608028654
        return mapped({ v in
            var r = SIMD16<Float>()
            for i in 0..<16 { r[i] = 0.5 * v[i] * (1 + Foundation.tanh(c * (v[i] + 0.044715 * v[i] * v[i] * v[i]))) }
            return r
        }, { 0.5 * $0 * (1 + Foundation.tanh(c * ($0 + 0.044715 * $0 * $0 * $0))) })
    }

    /// QuickGELU, `x·sigmoid(1.702·x)` (CLIP's `quick_gelu`).
    public func quickGelu() -> Tensor {
        mapped({ v in v / (1 + VectorMath.exp(-1.702 * v)) }, { $0 / (1 + Foundation.exp(-1.702 * $0)) })
    }

    /// Multiplies every element by `s`.
    public func scaled(by s: Float) -> Tensor {
        mapped({ $0 * s }, { $0 * s })
    }

    /// Clamps every element to `range`.
    public func clamped(to range: ClosedRange<Float>) -> Tensor {
        let (lo, hi) = (range.lowerBound, range.upperBound)
        return mapped({ VectorMath.clamp($0, lo, hi) }, { Swift.min(Swift.max($0, lo), hi) })
    }

    /// `a·self + b·other`, element-wise, same shapes.
    public func linearCombination(_ a: Float, _ other: Tensor, _ b: Float) -> Tensor {
        precondition(shape == other.shape, "linearCombination: shapes \(shape) and \(other.shape) differ")
        var out = Tensor(uninitialized: shape)
        let n = count
        storage.withUnsafeBufferPointer { x in
            other.storage.withUnsafeBufferPointer { y in
                out.storage.withUnsafeMutableBufferPointer { o in
                    let xp = x.baseAddress!, yp = y.baseAddress!, op = o.baseAddress!
                    parallelChunks(n, minimumChunk: 16384) { r in
                        for i in r { op[i] = a * xp[i] + b * yp[i] }
                    }
                }
            }
        }
        return out
    }

    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.linearCombination(1, rhs, 1) }
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.linearCombination(1, rhs, -1) }

    /// Adds `other` in place (same shapes).
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: shapes \(shape) and \(other.shape) differ")
        let n = count
        other.storage.withUnsafeBufferPointer { y in
            storage.withUnsafeMutableBufferPointer { x in
                let xp = x.baseAddress!, yp = y.baseAddress!
                parallelChunks(n, minimumChunk: 16384) { r in
                    for i in r { xp[i] += yp[i] }
                }
            }
        }
    }

    /// Adds a per-(batch, channel) value to every pixel of an NCHW tensor; `perChannel` is [N, C].
    public func addingPerChannel(_ perChannel: Tensor) -> Tensor {
        let (n, c) = (shape[0], shape[1])
        precondition(perChannel.shape == [n, c], "addingPerChannel: expected [\(n), \(c)], got \(perChannel.shape)")
        let hw = count / (n * c)
        var out = self
        out.storage.withUnsafeMutableBufferPointer { o in
            perChannel.storage.withUnsafeBufferPointer { p in
                let op = o.baseAddress!, pp = p.baseAddress!
                parallelFor(n * c) { nc in
                    let v = pp[nc]
                    let base = op + nc * hw
                    for i in 0..<hw { base[i] += v }
                }
            }
        }
        return out
    }

    /// Concatenates NCHW (or N×C×…) tensors along the channel axis.
    public static func concatenateChannels(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape[0] == b.shape[0] && Array(a.shape.dropFirst(2)) == Array(b.shape.dropFirst(2)),
                     "concatenateChannels: shapes \(a.shape) and \(b.shape) do not fit")
        let n = a.shape[0]
        let innerA = a.count / n, innerB = b.count / n
        var storage = [Float]()
        storage.reserveCapacity(a.count + b.count)
        for i in 0..<n {
            storage += a.storage[i * innerA ..< (i + 1) * innerA]
            storage += b.storage[i * innerB ..< (i + 1) * innerB]
        }
        var shape = a.shape
        shape[1] += b.shape[1]
        return Tensor(shape: shape, storage: storage)
    }

    /// Swaps NCHW to N(HW)C, the token layout the transformer blocks use.
    public func channelsLast() -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        var out = Tensor(uninitialized: [n, h * w, c])
        let hw = h * w
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { d in
                let sp = s.baseAddress!, dp = d.baseAddress!
                parallelFor(n * c) { nc in
                    let b = nc / c, ch = nc % c
                    let src = sp + nc * hw
                    let dst = dp + b * hw * c + ch
                    for p in 0..<hw { dst[p * c] = src[p] }
                }
            }
        }
        return out
    }

    /// Swaps N(HW)C tokens back to NCHW.
    public func channelsFirst(height h: Int, width w: Int) -> Tensor {
        let (n, hw, c) = (shape[0], shape[1], shape[2])
        precondition(hw == h * w, "channelsFirst: \(hw) tokens is not \(h)x\(w)")
        var out = Tensor(uninitialized: [n, c, h, w])
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { d in
                let sp = s.baseAddress!, dp = d.baseAddress!
                parallelFor(n * c) { nc in
                    let b = nc / c, ch = nc % c
                    let src = sp + b * hw * c + ch
                    let dst = dp + nc * hw
                    for p in 0..<hw { dst[p] = src[p * c] }
                }
            }
        }
        return out
    }
}
