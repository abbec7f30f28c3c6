import CSD
import Core
import Testing

/// `EditMask.withoutRareLooks`: a new ground's mask without the objects that stand on it.
struct EditMaskRareLooksTests {
    /// A 16 × 16 source ([1, 3, 16, 16] in [−1, 1]) of green ground with `paint` applied to its
    /// cells (x, y) → RGB in [0, 1].
    static func source(_ paint: (Int, Int) -> SIMD3<Float>?) -> Tensor {
        var storage = [Float](repeating: 0, count: 3 * 256)
        for y in 0..<16 {
            for x in 0..<16 {
                let rgb = paint(x, y) ?? SIMD3<Float>(0.25, 0.55, 0.2)
                for ch in 0..<3 { storage[ch * 256 + y * 16 + x] = 2 * rgb[ch] - 1 }
            }
        }
        return Tensor(shape: [1, 3, 16, 16], storage: storage)
    }

    /// A blue object and a shadow (the ground's colour at 40% brightness) on a fully masked
    /// ground: the object leaves the mask, the shadow and the ground stay.
    @Test func anObjectLeavesTheMaskAndTheGroundsShadowStays() {
        let object = { (x: Int, y: Int) in (4..<8).contains(x) && (4..<8).contains(y) }
        let shadow = { (x: Int, y: Int) in (8..<12).contains(x) && (6..<9).contains(y) }
        let source = Self.source { x, y in
            object(x, y) ? SIMD3(0.15, 0.2, 0.8) : shadow(x, y) ? 0.4 * SIMD3(0.25, 0.55, 0.2) : nil
        }
        let mask = Tensor(shape: [1, 1, 16, 16], storage: [Float](repeating: 1, count: 256))
        let out = EditMask.withoutRareLooks(mask, source: source)
        for y in 0..<16 {
            for x in 0..<16 {
                #expect(out.storage[y * 16 + x] == (object(x, y) ? 0 : 1), "cell (\(x), \(y))")
            }
        }
    }

    /// Cells outside the mask stay as they are, a lone odd cell (fewer than `smallestGroup`)
    /// stays in, an object coloured like the ground (a pale green one) stays in, and a latent
    /// model's 4 channels leave the mask as it is.
    @Test func loneCellsLikeColouredObjectsAndLatentsKeepTheMask() {
        let source = Self.source { x, y in
            if x == 2 && y == 2 { return SIMD3(0.9, 0.1, 0.1) }
            if (10..<14).contains(x) && (10..<14).contains(y) { return SIMD3(0.35, 0.75, 0.3) }
            return nil
        }
        var mask = Tensor(shape: [1, 1, 16, 16], storage: [Float](repeating: 0.8, count: 256))
        for x in 0..<16 { mask.storage[x] = 0.25 }
        let out = EditMask.withoutRareLooks(mask, source: source)
        #expect(out.storage == mask.storage)
        let latent = Tensor(shape: [1, 4, 16, 16], storage: [Float](repeating: 0.3, count: 4 * 256))
        #expect(EditMask.withoutRareLooks(mask, source: latent).storage == mask.storage)
    }

    /// A latent model's masks are judged by pictures 8 times their size, averaged down: the blue
    /// object of a 128-pixel picture leaves a 16-cell mask, one mask per picture.
    @Test func aLatentModelsMasksAreJudgedByTheirPictures() {
        let size = 128
        var pictures = [Float](repeating: 0, count: 2 * 3 * size * size)
        for i in 0..<2 {
            for y in 0..<size {
                for x in 0..<size {
                    // The object, in the first picture only: cells (4..<8, 4..<8) of the mask.
                    let object = i == 0 && (32..<64).contains(x) && (32..<64).contains(y)
                    let rgb: SIMD3<Float> = object ? SIMD3(0.15, 0.2, 0.8) : SIMD3(0.25, 0.55, 0.2)
                    for ch in 0..<3 { pictures[((i * 3 + ch) * size + y) * size + x] = 2 * rgb[ch] - 1 }
                }
            }
        }
        let masks = Tensor(shape: [2, 1, 16, 16], storage: [Float](repeating: 1, count: 2 * 256))
        let out = EditMask.withoutRareLooks(masks, pictures: Tensor(shape: [2, 3, size, size], storage: pictures))
        #expect(out.shape == [2, 1, 16, 16])
        for y in 0..<16 {
            for x in 0..<16 {
                let object = (4..<8).contains(x) && (4..<8).contains(y)
                #expect(out.storage[y * 16 + x] == (object ? 0 : 1), "first picture, cell (\(x), \(y))")
                #expect(out.storage[256 + y * 16 + x] == 1, "second picture, cell (\(x), \(y))")
            }
        }
    }
}
