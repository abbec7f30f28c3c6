import Foundation
import Testing
@testable import Core

/// Joint bilateral upsampling keeps an edit inside the full-size picture's edges.
@Suite struct GuidedUpsamplingTests {
    /// A 32×8 picture, dark left of column `edge` and light from it on, and its 8×2 working size.
    func guide(edge: Int) -> (full: RGBImage, low: Tensor) {
        let full = RGBImage(width: 32, height: 8, pixels: (0..<(32 * 8)).flatMap { p in [UInt8](repeating: p % 32 < edge ? 30 : 220, count: 3) })
        return (full, full.workingTensor(width: 8, height: 2).item(0))
    }

    @Test func anEditStopsAtTheFullSizeEdge() {
        // The edge at column 13 falls inside working pixel 3 (columns 12–15); the edit (+0.5)
        // was made on the dark side only, working columns 0–2, with working column 3 half way.
        let (full, low) = guide(edge: 13)
        var difference = Tensor(zeros: [3, 2, 8])
        for c in 0..<3 { for y in 0..<2 { for x in 0..<4 { difference.storage[(c * 2 + y) * 8 + x] = x < 3 ? 0.5 : 0.25 } } }
        let guided = difference.guidedUpsampled(lowGuide: low, guide: full)
        let bilinear = difference.reshaped([1, 3, 2, 8]).resized(height: 8, width: 32)
        // Light pixels just past the edge: the guided edit leaves them nearly alone, bilinear does not.
        for x in 13...15 {
            #expect(guided.storage[4 * 32 + x] < 0.05, "column \(x): \(guided.storage[4 * 32 + x])")
            #expect(bilinear.storage[4 * 32 + x] > 0.1)
        }
        // Dark pixels keep the edit.
        for x in 0...11 { #expect(guided.storage[4 * 32 + x] > 0.3, "column \(x)") }
    }

    @Test func aFlatGuideGivesASmoothUpsampleThatKeepsAConstant() {
        let (full, low) = guide(edge: 0)   // all light
        let constant = Tensor(shape: [3, 2, 8], storage: [Float](repeating: 0.3, count: 48))
        #expect(constant.guidedUpsampled(lowGuide: low, guide: full).storage.allSatisfy { abs($0 - 0.3) < 1e-5 })
    }

    @Test func anEditIsCarriedAsItIsAtItsOwnSizeAndAlongTheEdgesToALargerOne() {
        let (full, low) = guide(edge: 13)
        var difference = Tensor(zeros: [3, 2, 8])
        for i in difference.storage.indices { difference.storage[i] = Float(i % 5) * 0.1 - 0.2 }
        // The working size is the picture's: nothing to upsample, so nothing is smoothed.
        let atOwnSize = RGBImage(width: 8, height: 2, pixels: [UInt8](repeating: 90, count: 48))
        #expect(difference.carried(to: atOwnSize, lowGuide: low).storage == difference.storage)
        // Larger: the guided upsample.
        #expect(difference.carried(to: full, lowGuide: low).storage == difference.guidedUpsampled(lowGuide: low, guide: full).storage)
    }
}
