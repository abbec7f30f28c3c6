/// SIMD16 transcendental functions for the hot element-wise loops.
///
/// Written with the SIMD operations that compile to vector code here: arithmetic, bit casts,
/// integer shifts and `replacing(with:where:)`. (`pointwiseMin/Max`, `clamped` and `rounded` on
/// `SIMD16<Float>` measured 50–100x slower.)
enum VectorMath {
    /// Lanes of `x` clamped to `[lo, hi]`.
    @inline(__always)
    static func clamp(_ x: SIMD16<Float>, _ lo: Float, _ hi: Float) -> SIMD16<Float> {
        let l = SIMD16<Float>(repeating: lo), h = SIMD16<Float>(repeating: hi)
        return x.replacing(with: l, where: x .< l).replacing(with: h, where: x .> h)
    }

    /// Lane-wise maximum.
    @inline(__always)
    static func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        a.replacing(with: b, where: b .> a)
    }

    /// `exp(x)`: `x = n·ln2 + r` with n rounded by the 1.5·2²³ trick, a degree-6 polynomial on r
    /// (Cephes' `expf` coefficients) and 2ⁿ built in the exponent bits. Relative error about
    /// 1.2e-7; inputs are clamped to [−87, 88], so exp(−∞) gives about 1.6e-38 rather than 0.
    @inline(__always)
    static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let c = clamp(x, -87, 88)
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let shifted = c * 1.44269504088896341 + magic
        let n = shifted - magic
        var r = c - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = SIMD16<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * (r * r) + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &- 0x4B40_0000
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD16<Float>.self)
        return e * scale
    }
}
