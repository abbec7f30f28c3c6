import Core
import Foundation
import Testing
@testable import NeRF

@Suite struct NeRFEditMetricsTests {
    static func flat(_ rgb: (UInt8, UInt8, UInt8), width: Int = 4, height: Int = 4) -> RGBImage {
        RGBImage(width: width, height: height, pixels: (0..<(width * height)).flatMap { _ in [rgb.0, rgb.1, rgb.2] })
    }

    /// Views of one colour have no spread; two colours have the variance of their means. The
    /// residual spread of views that differ from their truths by one offset is zero.
    @Test func spreadsAreZeroForAgreeingViewsOnly() {
        let region = [Bool](repeating: true, count: 16)
        #expect(NeRFEditMetrics.colourSpread(views: [Self.flat((10, 20, 30)), Self.flat((10, 20, 30))], regions: [region, region]) == 0)
        let two = NeRFEditMetrics.colourSpread(views: [Self.flat((0, 0, 0)), Self.flat((20, 0, 0))], regions: [region, region])
        #expect(abs(two - 100) < 1e-9)
        let views = [Self.flat((50, 60, 70)), Self.flat((90, 60, 70))], truths = [Self.flat((40, 60, 70)), Self.flat((80, 60, 70))]
        #expect(NeRFEditMetrics.residualSpread(views: views, truths: truths, regions: [region, region]) == 0)
        #expect(NeRFEditMetrics.residualSpread(views: views, truths: truths.reversed(), regions: [region, region]) > 0)
    }

    /// A view carried into itself by its own depth lands on its own pixels (no error); into a
    /// view whose colours differ, the error is the difference.
    @Test func aViewReprojectedIntoItselfHasNoError() {
        let camera = NeRFCamera(width: 4, height: 4, focalX: 4, focalY: 4, centerX: 2, centerY: 2,
                                cameraToWorld: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 3], [0, 0, 0, 1]])
        let depth = (0..<16).map { p in camera.ray(x: p % 4, y: p / 4).direction.z * -3 > 0 ? 3 / -camera.ray(x: p % 4, y: p / 4).direction.z : 0 }
        let region = [Bool](repeating: true, count: 16)
        let image = RGBImage(width: 4, height: 4, pixels: (0..<48).map { UInt8($0 * 5) })
        let same = NeRFEditMetrics.reprojectionError(from: (image, depth, camera), to: (image, depth, camera), region: region)
        #expect(same.pixels == 16 && same.error == 0)
        let other = NeRFEditMetrics.reprojectionError(from: (Self.flat((10, 10, 10)), depth, camera), to: (Self.flat((16, 10, 10)), depth, camera), region: region)
        #expect(other.pixels == 16 && abs(other.error - 2) < 1e-9)
    }
}
