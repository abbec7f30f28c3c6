import CVectorKernels
import Foundation
import Testing
@testable import Core

/// The project's own product kernels (`csd_sgemm`, `csd_sgemm_bf16`) against a double-precision
/// reference, and `BLAS.sgemm`'s promise that the bytes do not depend on the thread count.
@Suite struct MatrixProductTests {
    /// bf16 of x, rounded to nearest with ties to even (what `vcvtne2ps2bf16` does), as a Float.
    static func bf16(_ x: Float) -> Float {
        let bits = x.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return Float(bitPattern: rounded & 0xFFFF_0000)
    }

    struct Problem {
        let m: Int, n: Int, k: Int, transA: Bool, transB: Bool
        let alpha: Float, beta: Float
        var lda: Int { transA ? m : k }
        var ldb: Int { transB ? k : n }
        let a: [Float], b: [Float], c: [Float]

        init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float = 0.7, beta: Float = 0.3, seed: UInt64) {
            (self.m, self.n, self.k, self.transA, self.transB, self.alpha, self.beta) = (m, n, k, transA, transB, alpha, beta)
            var rng = RandomGenerator(seed: seed)
            a = rng.normal([m * k]).storage
            b = rng.normal([k * n]).storage
            // beta 0 must never read C: NaN there would show.
            c = beta == 0 ? [Float](repeating: .nan, count: m * n) : rng.normal([m * n]).storage
        }

        func element(_ x: [Float], _ ld: Int, _ row: Int, _ column: Int, transposed: Bool) -> Float {
            transposed ? x[column * ld + row] : x[row * ld + column]
        }

        /// alpha·op(A)·op(B) + beta·C in double, with the operands passed through `round` first.
        func reference(_ round: (Float) -> Float = { $0 }) -> [Double] {
            var out = [Double](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for p in 0..<k {
                        sum += Double(round(element(a, lda, i, p, transposed: transA))) * Double(round(element(b, ldb, p, j, transposed: transB)))
                    }
                    out[i * n + j] = Double(alpha) * sum + (beta == 0 ? 0 : Double(beta) * Double(c[i * n + j]))
                }
            }
            return out
        }

        func run(_ kernel: (Int32, Int32, Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, Float,
                            UnsafeMutablePointer<Float>, Int) -> Int32) -> [Float] {
            var out = c
            let status = a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { cp in
                        kernel(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, ap.baseAddress!, lda, bp.baseAddress!, ldb, beta,
                               cp.baseAddress!, n)
                    }
                }
            }
            #expect(status == 0)
            return out
        }
    }

    /// Largest |got − want| over the scale Σ|a||b| of the element (the bound of a sum's rounding).
    static func worstError(_ got: [Float], _ want: [Double], _ p: Problem) -> Double {
        var worst = 0.0
        for i in 0..<p.m {
            for j in 0..<p.n {
                var scale = 1e-30
                for q in 0..<p.k {
                    scale += Double(abs(p.element(p.a, p.lda, i, q, transposed: p.transA) * p.element(p.b, p.ldb, q, j, transposed: p.transB)))
                }
                worst = max(worst, abs(Double(got[i * p.n + j]) - want[i * p.n + j]) / scale)
            }
        }
        return worst
    }

    /// Odd sizes cover partial 12-row and 32-column blocks, k beyond one 256/512 block, and the
    /// 16 × 16 transposes' partial blocks.
    static let shapes: [(Int, Int, Int)] = [(1, 1, 1), (13, 33, 7), (12, 32, 256), (25, 70, 513), (37, 17, 1030), (50, 64, 300)]

    @Test(.enabled(if: csd_sgemm_available() != 0, "this CPU has no AVX-512"), arguments: [false, true], [false, true])
    func fp32ProductsMatchDoublePrecision(transA: Bool, transB: Bool) {
        for (index, (m, n, k)) in Self.shapes.enumerated() {
            for beta: Float in [0, 0.3] {
                let p = Problem(m: m, n: n, k: k, transA: transA, transB: transB, beta: beta, seed: UInt64(index))
                let error = Self.worstError(p.run(csd_sgemm), p.reference(), p)
                #expect(error < 1e-6, "\(m)×\(n)×\(k) transA \(transA) transB \(transB) beta \(beta): error \(error)")
            }
        }
    }

    /// bf16 products are exactly the products of bf16-rounded operands, summed in fp32: against
    /// that reference only fp32 rounding remains; against the fp32 operands, bf16's 2⁻⁹.
    @Test(.enabled(if: csd_sgemm_bf16_available() != 0, "this CPU has no AVX512-BF16"), arguments: [false, true], [false, true])
    func bf16ProductsMatchRoundedOperands(transA: Bool, transB: Bool) {
        for (index, (m, n, k)) in Self.shapes.enumerated() {
            for beta: Float in [0, 0.3] {
                let p = Problem(m: m, n: n, k: k, transA: transA, transB: transB, beta: beta, seed: 100 + UInt64(index))
                let got = p.run(csd_sgemm_bf16)
                let rounded = Self.worstError(got, p.reference(Self.bf16), p)
                let exact = Self.worstError(got, p.reference(), p)
                #expect(rounded < 1e-6, "\(m)×\(n)×\(k) transA \(transA) transB \(transB): error \(rounded) against rounded operands")
                #expect(exact < 8e-3, "\(m)×\(n)×\(k): error \(exact) against fp32 operands")
                if k >= 256 { #expect(exact > 1e-5, "bf16 rounding must show against fp32 operands (\(exact))") }
            }
        }
    }

    /// Each precision and kernel gives the same bytes on one thread and on all, large enough to be
    /// cut into tiles (300 × 700) or into chunks of k (40 × 60 from 2600 terms), so a seed gives
    /// the same edit on any machine.
    @Test(arguments: ComputePrecision.allCases.filter(\.isAvailable), [(300, 700, 530), (40, 60, 2600)])
    func productsDoNotDependOnTheThreadCount(precision: ComputePrecision, shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let p = Problem(m: m, n: n, k: k, transA: false, transB: true, beta: 0, seed: 7)
        func product(parallel: Bool, in precision: ComputePrecision) -> [Float] {
            var out = [Float](repeating: 0, count: m * n)
            ComputePrecision.with(precision) {
                p.a.withUnsafeBufferPointer { ap in p.b.withUnsafeBufferPointer { bp in out.withUnsafeMutableBufferPointer { cp in
                    BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: k,
                               c: cp.baseAddress!, ldc: n, parallel: parallel)
                } } }
            }
            return out
        }
        let one = product(parallel: false, in: precision), all = product(parallel: true, in: precision)
        let same = one == all
        #expect(same, "one thread and all threads differ")
        #expect(ComputePrecision.current == .fp32, "with(_:_:) restores the precision")
        if precision == .bf16 {
            let changed = product(parallel: true, in: .fp32) != all
            #expect(changed, "bf16 must change the bytes")
        }
    }

    /// Sides of 32 or more are cut into an even number of tiles of about 256, each starting at a
    /// multiple of 16, none empty, together covering the side; shorter sides stay whole.
    @Test func tilesAreEvenInNumberAndCoverTheSide() {
        for length in [1, 31, 32, 40, 128, 320, 511, 512, 768, 1152, 1280, 4096, 5000, 7700] {
            let count = BLAS.tileCount(length, tile: 256)
            let starts = (0...count).map { BLAS.tileStart($0, of: count, length: length) }
            #expect(starts.first == 0 && starts.last == length, "\(length): tiles from \(starts)")
            #expect(zip(starts, starts.dropFirst()).allSatisfy { $0 < $1 }, "\(length): an empty tile in \(starts)")
            if length < 32 {
                #expect(count == 1, "\(length) stays whole")
            } else {
                #expect(count % 2 == 0 && starts.dropLast().allSatisfy { $0 % 16 == 0 }, "\(length): tiles from \(starts)")
                #expect(zip(starts, starts.dropFirst()).allSatisfy { $1 - $0 <= 272 } || count == 2, "\(length): tiles of about 256")
            }
        }
    }

    /// Products with a small C and long sums are summed in chunks of k; the result is still the
    /// product, with alpha and beta applied once (beta 0 never reads C). (The kernels are
    /// process-wide, so this runs on the default ones: switching them would race other tests.)
    @Test(arguments: [false, true])
    func chunkedSumsMatchDoublePrecision(transposed: Bool) {
        let (m, n, k) = (23, 45, 3000)
        #expect(BLAS.reductionChunks(m: m, n: n, k: k) > 1, "this shape must be summed in chunks")
        for beta: Float in [0, 0.3] {
            let p = Problem(m: m, n: n, k: k, transA: transposed, transB: !transposed, beta: beta, seed: 11)
            var out = p.c
            p.a.withUnsafeBufferPointer { ap in p.b.withUnsafeBufferPointer { bp in out.withUnsafeMutableBufferPointer { cp in
                BLAS.sgemm(transA: p.transA, transB: p.transB, m: m, n: n, k: k, alpha: p.alpha, a: ap.baseAddress!, lda: p.lda,
                           b: bp.baseAddress!, ldb: p.ldb, beta: beta, c: cp.baseAddress!, ldc: n)
            } } }
            let error = Self.worstError(out, p.reference(), p)
            #expect(error < 1e-6, "transposed \(transposed) beta \(beta): error \(error)")
        }
    }

    /// The kernels sum each element over k in the same order however C is cut into tiles (as
    /// `BLAS.sgemm` cuts it across threads), so the bytes do not depend on the tiling.
    @Test(.enabled(if: csd_sgemm_available() != 0, "this CPU has no AVX-512"), arguments: [false, true])
    func tilesGiveTheBytesOfTheWholeProduct(bf16: Bool) {
        guard !bf16 || csd_sgemm_bf16_available() != 0 else { return }
        let kernel = bf16 ? csd_sgemm_bf16 : csd_sgemm
        let (m, n, k) = (70, 300, 530)
        let p = Problem(m: m, n: n, k: k, transA: false, transB: false, beta: 0, seed: 9)
        let whole = p.run(kernel)
        var tiled = [Float](repeating: 0, count: m * n)
        p.a.withUnsafeBufferPointer { ap in p.b.withUnsafeBufferPointer { bp in tiled.withUnsafeMutableBufferPointer { cp in
            for (rows, columns) in [(0..<29, 0..<77), (0..<29, 77..<300), (29..<70, 0..<150), (29..<70, 150..<300)] {
                _ = kernel(0, 0, rows.count, columns.count, k, p.alpha, ap.baseAddress! + rows.lowerBound * k, k,
                           bp.baseAddress! + columns.lowerBound, n, 0, cp.baseAddress! + rows.lowerBound * n + columns.lowerBound, n)
            }
        } } }
        let same = whole == tiled
        #expect(same, "tiles must give the whole product's bytes")
    }

    /// The precision is the calling thread's (tests and edits may run side by side in other
    /// precisions), and a parallel loop runs every index under the caller's.
    @Test func precisionIsPerThreadAndParallelLoopsCarryIt() {
        ComputePrecision.with(.bf16) {
            final class Seen: @unchecked Sendable { var precision = ComputePrecision.bf16 }
            let other = Seen(), done = DispatchSemaphore(value: 0)
            Thread { other.precision = ComputePrecision.current; done.signal() }.start()
            done.wait()
            #expect(other.precision == .fp32, "another thread must not see this one's precision")
            var seen = [ComputePrecision](repeating: .fp32, count: 64)
            seen.withUnsafeMutableBufferPointer { out in
                let out = out
                parallelFor(64) { i in out[i] = ComputePrecision.current }
            }
            #expect(seen.allSatisfy { $0 == .bf16 }, "every index runs under the caller's precision")
        }
        #expect(ComputePrecision.current == .fp32)
    }

    /// A whole UNet forward under bf16 stays within bf16's error of fp32's (the fixture UNet).
    @Test(.enabled(if: ComputePrecision.bf16.isAvailable, "this CPU has no AVX512-BF16"))
    func unetForwardInBF16StaysCloseToFP32() throws {
        let unet = try UNet2DConditionModel(folder: Fixtures.path("tiny-sd/unet"))
        let x = Fixtures.reference("unet_latent.sample"), t = Fixtures.reference("unet_latent.timesteps").storage
        let c = Fixtures.reference("unet_latent.context")
        let fp32 = unet(x, timesteps: t, encoderHiddenStates: c)
        let bf16 = ComputePrecision.with(.bf16) { unet(x, timesteps: t, encoderHiddenStates: c) }
        let relative = Double(fp32.maxAbsDifference(bf16)) / Double(fp32.maxAbs)
        #expect(relative < 0.05 && relative > 1e-5, "bf16 against fp32: \(relative) of the output's scale")
    }
}
