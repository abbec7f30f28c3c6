import Foundation
import Testing
@testable import Core

/// The figures against the ideal edit, gathered a frame at a time, agree with the whole-video
/// measures and with figures worked by hand.
@Suite struct IdealComparisonTests {
    func image(_ value: UInt8, _ w: Int = 4, _ h: Int = 3) -> RGBImage { RGBImage(width: w, height: h, pixels: [UInt8](repeating: value, count: w * h * 3)) }

    @Test func figuresWorkedByHand() {
        // 4×3 pictures; the ideal changes the top-left pixel from 100 to 200.
        let source = image(100)
        var ideal = source
        for c in 0..<3 { ideal.pixels[c] = 200 }
        var edited = source
        for c in 0..<3 { edited.pixels[c] = 150 }     // half way: completion 0.75
        edited.pixels[3 * 5] = 110                    // pixel (1, 1), in the 2-pixel ring: +10 on one channel
        var comparison = IdealComparison()
        comparison.add(edited: edited, source: source, ideal: ideal, changed: EditMetrics.differing(source, ideal))
        #expect(comparison.completion == 0.75)
        // The ring is every other pixel within 2 of (0, 0) that lies in the 4×3 picture: 3×3 − 1 = 8 pixels.
        #expect(abs(comparison.fringe! - 10.0 / 24) < 1e-12)
        // The background: 11 pixels, one channel off by 10.
        #expect(abs(comparison.backgroundPSNR! - 10 * log10(255.0 * 255 / (100.0 / 33))) < 1e-9)
        #expect(abs(comparison.psnrToIdeal - EditMetrics.psnr(edited, ideal)) < 1e-12)
        #expect(abs(comparison.sourcePSNRToIdeal - EditMetrics.psnr(source, ideal)) < 1e-12)
        #expect(comparison.addedFlicker == nil, "one frame has no flicker")
        #expect(comparison.named.map(\.name).count == 4)
    }

    @Test func aFrameAtATimeAgreesWithTheWholeVideoMeasures() {
        let source = [image(10), image(20), image(30)]
        let ideal = [image(15), image(25), image(35)]
        let edited = [image(12), image(28), image(33)]
        var comparison = IdealComparison()
        let regions = zip(source, ideal).map { EditMetrics.differing($0, $1) }
        for k in 0..<3 { comparison.add(edited: edited[k], source: source[k], ideal: ideal[k], changed: regions[k]) }
        #expect(comparison.frames == 3)
        #expect(comparison.addedFlicker == EditMetrics.addedFlicker(source: ideal, edited: edited))
        #expect(comparison.completion == EditMetrics.completion(edited: edited, source: source, ideal: ideal, region: regions))
        #expect(comparison.backgroundPSNR == nil && comparison.fringe == nil, "the ideal changes every pixel")
        #expect(comparison.named.map(\.name).contains("flicker added beyond the ideal's"))
    }

    @Test func aBackgroundOrFringeOfAFewStrayPixelsIsNotMeasured() {
        // 20×10 pictures: the ideal changes all but one pixel (0.5%), then all but two (1%).
        let source = image(100, 20, 10)
        var comparison = IdealComparison()
        for kept in [1, 2] {
            var ideal = image(150, 20, 10)
            for p in 0..<kept { for c in 0..<3 { ideal.pixels[p * 3 + c] = 100 } }
            comparison.add(edited: ideal, source: source, ideal: ideal, changed: EditMetrics.differing(source, ideal))
            #expect((comparison.backgroundPSNR == nil) == (kept == 1), "\(kept) pixels kept")
            #expect((comparison.fringe == nil) == (kept == 1), "\(kept) pixels kept: a fringe only where there is a background")
        }
    }

    @Test func aFrameOfAnotherSizeStartsTheFlickerAfresh() {
        var comparison = IdealComparison()
        comparison.add(edited: image(12), source: image(10), ideal: image(15), changed: [Bool](repeating: true, count: 12))
        comparison.add(edited: image(30, 2, 2), source: image(20, 2, 2), ideal: image(25, 2, 2), changed: [Bool](repeating: true, count: 4))
        #expect(comparison.frames == 2 && comparison.addedFlicker == nil)
    }

    @Test func aToleranceLeavesCodecNoiseOutOfTheRegion() {
        let a = RGBImage(width: 3, height: 1, pixels: [100, 100, 100, 100, 100, 100, 100, 100, 100])
        let b = RGBImage(width: 3, height: 1, pixels: [100, 100, 100, 104, 100, 100, 100, 100, 140])
        #expect(EditMetrics.differing(a, b) == [false, true, true])
        #expect(EditMetrics.differing(a, b, byMoreThan: 8) == [false, false, true])
    }
}
