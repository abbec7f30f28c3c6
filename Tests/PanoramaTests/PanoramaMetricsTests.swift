import Core
import Testing
@testable import Panorama

@Suite struct PanoramaMetricsTests {
    func flat(_ v: UInt8, _ w: Int = 16, _ h: Int = 4) -> RGBImage { RGBImage(width: w, height: h, pixels: [UInt8](repeating: v, count: w * h * 3)) }

    @Test func seamErrorSeesAStepAtABoundaryOnly() {
        var stepped = flat(100)
        for y in 0..<4 { for x in 8..<16 { for c in 0..<3 { stepped.pixels[(y * 16 + x) * 3 + c] = 130 } } }
        #expect(PanoramaMetrics.seamError(original: flat(100), edited: flat(120), boundaries: [4, 8, 12], wrap: true) == 0)
        // A 30-level step at column 8 (a boundary) and back at the 0/360 line.
        #expect(PanoramaMetrics.seamError(original: flat(100), edited: stepped, boundaries: [4, 8, 12], wrap: false) == 10)
        #expect(PanoramaMetrics.seamError(original: flat(100), edited: stepped, boundaries: [4, 8, 12], wrap: true) == 15)
    }

    @Test func styleSpreadIsZeroForOneTintAndGrowsWithTwo() {
        let region = [Bool](repeating: true, count: 64)
        // Two objects of different colours (green left, yellow right) recoloured alike: no spread,
        // though their colour changes differ.
        var source = flat(90)
        for y in 0..<4 { for x in 0..<8 { source.pixels[(y * 16 + x) * 3 + 1] = 200 } }
        let recoloured = flat(40)
        #expect(PanoramaMetrics.styleSpread(edited: recoloured, region: region, windowOrigins: [0, 4, 8, 12], window: 4) == 0)
        #expect(PanoramaMetrics.styleSpread(edited: source, region: region, windowOrigins: [0, 4, 8, 12], window: 4) > 100)
        // Two tints in the edit: windows 0 and 4 hold the first, 8 and 12 the second (red +140).
        var two = recoloured
        for y in 0..<4 { for x in 8..<16 { two.pixels[(y * 16 + x) * 3] = 180 } }
        #expect(PanoramaMetrics.styleSpread(edited: two, region: region, windowOrigins: [0, 4, 8, 12], window: 4) == 70 * 70)
        // Only region pixels count: with the red half outside the region, no spread.
        let left = (0..<64).map { $0 % 16 < 8 }
        #expect(PanoramaMetrics.styleSpread(edited: two, region: left, windowOrigins: [0, 4, 8, 12], window: 4) == 0)
    }

    /// Tint spread takes brightness out: one colour lit in some windows and shaded in others has
    /// a style spread but no tint spread; two colours have both.
    @Test func tintSpreadIgnoresShadingButNotColour() {
        let region = [Bool](repeating: true, count: 64)
        let origins = [0, 4, 8, 12]
        // A blue object, half of it at full light and half at 50%: the same tint.
        var shaded = flat(0)
        for y in 0..<4 { for x in 0..<16 {
            let light = x < 8 ? 1.0 : 0.5
            shaded.pixels[(y * 16 + x) * 3] = UInt8(40 * light)
            shaded.pixels[(y * 16 + x) * 3 + 1] = UInt8(60 * light)
            shaded.pixels[(y * 16 + x) * 3 + 2] = UInt8(200 * light)
        } }
        #expect(PanoramaMetrics.styleSpread(edited: shaded, region: region, windowOrigins: origins, window: 4) > 1000)
        #expect(PanoramaMetrics.tintSpread(edited: shaded, region: region, windowOrigins: origins, window: 4) < 1e-6)
        // Half of it left red (200, 40, 40) at the same brightness: tint spread as large as the style spread.
        var halfRed = shaded
        for y in 0..<4 { for x in 8..<16 {
            (halfRed.pixels[(y * 16 + x) * 3], halfRed.pixels[(y * 16 + x) * 3 + 1], halfRed.pixels[(y * 16 + x) * 3 + 2]) = (200, 60, 40)
        } }
        for y in 0..<4 { for x in 0..<8 {
            (halfRed.pixels[(y * 16 + x) * 3], halfRed.pixels[(y * 16 + x) * 3 + 1], halfRed.pixels[(y * 16 + x) * 3 + 2]) = (40, 60, 200)
        } }
        let style = PanoramaMetrics.styleSpread(edited: halfRed, region: region, windowOrigins: origins, window: 4)
        let tint = PanoramaMetrics.tintSpread(edited: halfRed, region: region, windowOrigins: origins, window: 4)
        #expect(abs(style - 2 * 80 * 80) < 1e-9 && abs(tint - style) < 1e-9, "style \(style) tint \(tint)")
    }

    /// Stray pixels: where the truth has only background, a dark object painted on white ground
    /// counts, snow a little off the truth's white does not, a texture shifted along the row does
    /// not, and objects outside the background mask are not looked at.
    @Test func strayShareCountsInventedObjectsOnTheBackground() {
        let truth = flat(230)
        let background = (0..<64).map { $0 % 16 >= 4 }  // columns 0–3 hold the real object
        #expect(PanoramaMetrics.strayShare(edited: truth, truth: truth, background: background) == 0)
        var edited = flat(200)  // snow 30 levels off: not stray
        #expect(PanoramaMetrics.strayShare(edited: edited, truth: truth, background: background) == 0)
        // The real object (columns 0–3) in red: outside the background, not counted.
        func paint(_ image: inout RGBImage, _ xs: Range<Int>, _ c: (UInt8, UInt8, UInt8)) {
            for y in 0..<4 { for x in xs { (image.pixels[(y * 16 + x) * 3], image.pixels[(y * 16 + x) * 3 + 1], image.pixels[(y * 16 + x) * 3 + 2]) = c } }
        }
        paint(&edited, 0..<4, (200, 20, 20))
        #expect(PanoramaMetrics.strayShare(edited: edited, truth: truth, background: background) == 0)
        // A red copy on columns 8–11 of the background: 16 of its 48 pixels.
        paint(&edited, 8..<12, (200, 20, 20))
        #expect(abs(PanoramaMetrics.strayShare(edited: edited, truth: truth, background: background) - 16.0 / 48) < 1e-12)
        // A striped ground (dark mortar every fourth column) whose stripes the edit shifts by one
        // column: every colour is one the truth has in that row, so nothing is stray.
        var bricks = flat(180), shifted = flat(180)
        for x in Swift.stride(from: 4, to: 16, by: 4) { paint(&bricks, x..<(x + 1), (60, 40, 40)); paint(&shifted, (x + 1)..<(x + 2), (60, 40, 40)) }
        #expect(PanoramaMetrics.strayShare(edited: shifted, truth: bricks, background: background) == 0)
        // Yellow on them is 60 levels from both the bricks and the mortar: stray.
        paint(&shifted, 13..<14, (230, 210, 20))
        #expect(abs(PanoramaMetrics.strayShare(edited: shifted, truth: bricks, background: background) - 4.0 / 48) < 1e-12)
    }

    /// Against the truth, shading the truth also has cancels, a flatter edit than the truth
    /// counts, and so does a window that kept the old colour; a constant offset does not.
    @Test func residualSpreadMeasuresWhatTheTruthDoesNotHave() {
        let region = [Bool](repeating: true, count: 64)
        let origins = [0, 4, 8, 12]
        func paint(_ left: (UInt8, UInt8, UInt8), _ right: (UInt8, UInt8, UInt8)) -> RGBImage {
            var image = flat(0)
            for y in 0..<4 { for x in 0..<16 {
                let c = x < 8 ? left : right
                (image.pixels[(y * 16 + x) * 3], image.pixels[(y * 16 + x) * 3 + 1], image.pixels[(y * 16 + x) * 3 + 2]) = c
            } }
            return image
        }
        // The truth: blue, lit on the left and shaded on the right.
        let truth = paint((40, 60, 200), (20, 30, 100))
        #expect(PanoramaMetrics.styleSpread(edited: truth, region: region, windowOrigins: origins, window: 4) > 1000)
        #expect(PanoramaMetrics.residualSpread(edited: truth, truth: truth, region: region, windowOrigins: origins, window: 4) == 0)
        // The same shading, 10 levels redder everywhere: no residual spread.
        let offset = paint((50, 60, 200), (30, 30, 100))
        #expect(PanoramaMetrics.residualSpread(edited: offset, truth: truth, region: region, windowOrigins: origins, window: 4) == 0)
        // Flat blue: no style spread, but a residual one (the truth's shading, 2 windows each side).
        let flatBlue = paint((30, 45, 150), (30, 45, 150))
        #expect(PanoramaMetrics.styleSpread(edited: flatBlue, region: region, windowOrigins: origins, window: 4) == 0)
        let flatResidual = PanoramaMetrics.residualSpread(edited: flatBlue, truth: truth, region: region, windowOrigins: origins, window: 4)
        #expect(flatResidual == Double(10 * 10 + 15 * 15 + 50 * 50))
        // The shaded half kept red (100, 20, 20) against the truth's (20, 30, 100): half of (80, −10, −80) on each side.
        let halfRed = paint((40, 60, 200), (100, 20, 20))
        let redResidual = PanoramaMetrics.residualSpread(edited: halfRed, truth: truth, region: region, windowOrigins: origins, window: 4)
        #expect(redResidual == Double(40 * 40 + 5 * 5 + 40 * 40))
    }

    @Test func meanChangeCountsOnlyTheRegion() {
        let source = flat(90)
        var edited = source
        // +30 on every channel of the left half, −90 (down to 0) on the right half.
        for y in 0..<4 { for x in 0..<16 { for c in 0..<3 { edited.pixels[(y * 16 + x) * 3 + c] = x < 8 ? 120 : 0 } } }
        let left = (0..<64).map { $0 % 16 < 8 }
        #expect(PanoramaMetrics.meanChange(original: source, edited: edited, region: left) == 30)
        #expect(PanoramaMetrics.meanChange(original: source, edited: edited, region: [Bool](repeating: true, count: 64)) == 60)
        #expect(PanoramaMetrics.meanChange(original: source, edited: source, region: left) == 0)
    }

    /// Object spread: two objects of different brightness, each one colour, have a style spread
    /// (windows holding one or the other differ) but no object spread; one object painted two
    /// colours across its width has both.
    @Test func objectSpreadComparesEachObjectWithItself() {
        let origins = [0, 4, 8, 12]
        let lit = (0..<64).map { $0 % 16 < 8 }, shaded = (0..<64).map { $0 % 16 >= 8 }
        var two = flat(0)
        for y in 0..<4 { for x in 0..<16 { two.pixels[(y * 16 + x) * 3 + 2] = x < 8 ? 200 : 100 } }
        let whole = [Bool](repeating: true, count: 64)
        #expect(PanoramaMetrics.styleSpread(edited: two, region: whole, windowOrigins: origins, window: 4) == 50 * 50)
        #expect(PanoramaMetrics.objectSpread(edited: two, objects: [lit, shaded], windowOrigins: origins, window: 4) == 0)
        // Seen as one object, the two halves are one object's parts painted differently.
        #expect(PanoramaMetrics.objectSpread(edited: two, objects: [whole], windowOrigins: origins, window: 4) == 50 * 50)
        // The mean over the objects: the lit one now has two colours (windows 0 and 4), the shaded one one.
        var patchy = two
        for y in 0..<4 { for x in 4..<8 { patchy.pixels[(y * 16 + x) * 3] = 80 } }
        #expect(PanoramaMetrics.objectSpread(edited: patchy, objects: [lit, shaded], windowOrigins: origins, window: 4) == 40 * 40 / 2)
        // An object that only one window holds has no spread and is left out of the mean.
        let corner = (0..<64).map { $0 % 16 < 2 }
        #expect(PanoramaMetrics.objectSpread(edited: patchy, objects: [lit, shaded, corner], windowOrigins: origins, window: 4) == 40 * 40 / 2)
    }
}
