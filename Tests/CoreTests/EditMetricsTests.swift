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
}

import Foundation
