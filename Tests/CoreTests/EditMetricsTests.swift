import Foundation
import Testing
@testable import Core

@Suite struct EditMetricsTests {
    func image(_ value: UInt8, _ w: Int = 4, _ h: Int = 2) -> RGBImage { RGBImage(width: w, height: h, pixels: [UInt8](repeating: value, count: w * h * 3)) }

    @Test func psnrOfAKnownError() {
        // Every value off by 5: MSE 25, PSNR = 10·log10(255²/25).
        #expect(abs(EditMetrics.psnr(image(100), image(105)) - 10 * log10(255.0 * 255 / 25)) < 1e-9)
        // Only the masked pixels count.
        var b = image(100)
        b.pixels[0] = 0
        let mask = (0..<8).map { $0 != 0 }
        #expect(EditMetrics.psnr(image(100), b, mask: mask) > 100)
        #expect(EditMetrics.psnr(image(100), b) < 40)
    }

    @Test func flickerCountsOnlyChangeTheEditAdds() {
        let source = [image(10), image(20), image(30)]
        #expect(EditMetrics.addedFlicker(source: source, edited: source) == 0)
        // A constant shift of every frame adds no flicker.
        #expect(EditMetrics.addedFlicker(source: source, edited: [image(50), image(60), image(70)]) == 0)
        // Alternating by ±8 around the source's motion: each pair differs by 8 from the source's change.
        #expect(EditMetrics.addedFlicker(source: source, edited: [image(10), image(28), image(30)]) == 8)
    }

    /// Completion is 1 at the ideal, 0 at the source, 0.75 halfway (the squared error quarters),
    /// counts only the region given, and is nil where the source already matches the ideal.
    @Test func completionMeasuresTheWayToTheIdealInsideTheChangedRegion() {
        let source = RGBImage(width: 2, height: 1, pixels: [100, 100, 100, 50, 50, 50])
        let ideal = RGBImage(width: 2, height: 1, pixels: [200, 100, 100, 50, 50, 50])
        let region = [EditMetrics.differing(source, ideal)]
        #expect(region == [[true, false]])
        #expect(EditMetrics.completion(edited: [ideal], source: [source], ideal: [ideal], region: region) == 1)
        #expect(EditMetrics.completion(edited: [source], source: [source], ideal: [ideal], region: region) == 0)
        var halfway = source
        halfway.pixels[0] = 150
        halfway.pixels[3] = 0   // outside the region: not counted
        #expect(EditMetrics.completion(edited: [halfway], source: [source], ideal: [ideal], region: region) == 0.75)
        var overshoot = source
        overshoot.pixels[0] = 255
        #expect(EditMetrics.completion(edited: [overshoot], source: [source], ideal: [ideal], region: region)! < 1)
        #expect(EditMetrics.completion(edited: [source], source: [source], ideal: [source], region: [[false, false]]) == nil)
    }

    /// The ring is the pixels within the distance of the region and outside it.
    @Test func theRingAroundARegion() {
        var region = [Bool](repeating: false, count: 7 * 5)
        region[2 * 7 + 3] = true   // one pixel in the middle of 7×5
        let ring = EditMetrics.ring(around: region, width: 7, height: 5, distance: 1)
        #expect(ring.filter { $0 }.count == 8 && !ring[2 * 7 + 3] && ring[1 * 7 + 2] && ring[3 * 7 + 4] && !ring[0])
        #expect(EditMetrics.ring(around: region, width: 7, height: 5, distance: 2).filter { $0 }.count == 24)
    }
}
