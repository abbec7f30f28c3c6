import CVectorKernels
import Testing
@testable import Core

/// `csd_peak_gflops`, the register-only rate `csd-bench` reports shares of: measured wherever the
/// CPU has AVX-512 or AVX2 with FMA (fp32), bf16 only with AVX512-BF16, and nothing for no rounds.
@Suite struct PeakRateTests {
    @Test func ratesAreMeasuredWhereTheCPUHasTheInstructions() {
        let vectors = csd_sgemm_available() != 0 || csd_winograd_products_available() != 0
        #expect((csd_peak_gflops(0, 10_000) > 0) == vectors)
        #expect((csd_peak_gflops(1, 10_000) > 0) == (csd_sgemm_bf16_available() != 0))
        #expect(csd_peak_gflops(0, 0) == 0)
    }
}
