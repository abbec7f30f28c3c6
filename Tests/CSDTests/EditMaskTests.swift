import CSD
import Core
import Testing

/// The shaping of a difference map into an edit mask, shared by panoramas and videos.
struct EditMaskTests {
    @Test func weakCellsJoinTheMaskOnlyWhereTheyTouchAStrongOne() {
        // Row of 8: a strong cell at 0 with a weak tail at 1–2 and, wrapping, 7; a lone weak cell at 5.
        let values: [Float] = [0.9, 0.4, 0.35, 0.1, 0.0, 0.5, 0.0, 0.4]
        let region = EditMask.connectedRegion(values, width: 8, height: 1, seeds: 0.8, reach: 0.3, wrap: true)
        #expect(region == [true, true, true, false, false, false, false, true])
        let cut = EditMask.connectedRegion(values, width: 8, height: 1, seeds: 0.8, reach: 0.3, wrap: false)
        #expect(cut == [true, true, true, false, false, false, false, false])
    }

    @Test func editsByInstructionDrawTheirMaskAtHigherNoiseAndEveryDrawFitsTheSchedule() {
        var byInstruction = EditSettings()
        byInstruction.instructed = EditSettings.Instructed()
        let prompts = EditMask.timesteps(for: EditSettings(), trainTimesteps: 1000)
        let instruction = EditMask.timesteps(for: byInstruction, trainTimesteps: 1000)
        #expect(prompts == EditMask.timesteps)
        #expect(instruction == EditMask.instructionTimesteps)
        #expect(instruction.min()! > prompts.max()!)
        // A model trained on fewer timesteps gets the same levels of its own schedule, all inside it.
        for steps in [2, 100, 250, 1000] {
            for settings in [EditSettings(), byInstruction] {
                let draws = EditMask.timesteps(for: settings, trainTimesteps: steps)
                #expect(draws.allSatisfy { (1..<max(2, steps)).contains($0) })
            }
        }
        #expect(EditMask.timesteps(for: byInstruction, trainTimesteps: 100) == EditMask.instructionTimesteps.map { $0 / 10 })
    }

    /// An 8×32 source of red ground with a two-shade green object at columns 8–15, rows 2–5, and
    /// a region holding only its dark left half (columns 8–11).
    static func twoShadeObject(farPatch: Bool = false) -> (source: Tensor, region: [Bool], object: [Bool]) {
        let (h, w) = (8, 32)
        var source = Tensor(zeros: [1, 3, h, w])
        var region = [Bool](repeating: false, count: h * w), object = region
        for y in 0..<h {
            for x in 0..<w {
                let inObject = (2...5).contains(y) && (8...15).contains(x)
                let lightGreen = (inObject && x >= 12) || (farPatch && y < 2 && (24...27).contains(x))
                let rgb: [Float] = lightGreen ? [0.2, 0.7, 0.2] : inObject ? [0.1, 0.5, 0.1] : [0.8, 0.2, 0.2]
                for c in 0..<3 { source.storage[c * h * w + y * w + x] = rgb[c] }
                object[y * w + x] = inObject
                region[y * w + x] = inObject && x < 12
            }
        }
        return (source, region, object)
    }

    @Test func theRegionTakesInTheRestOfItsObjectAndNoGround() {
        let (source, region, object) = Self.twoShadeObject()
        #expect(EditMask.growByAppearance(region, source: source, reach: 8, blur: 0, wrap: true) == object)
        // Only as far as `reach` cells from the region.
        let short = EditMask.growByAppearance(region, source: source, reach: 2, blur: 0, wrap: true)
        #expect(short.indices.filter { short[$0] }.allSatisfy { object[$0] && $0 % 32 <= 13 })
        #expect(short.indices.filter { short[$0] }.count == 4 * 6)
        #expect(EditMask.growByAppearance(region, source: source, reach: 0, blur: 0, wrap: true) == region)
    }

    @Test func aLookThatTheBackgroundAlsoHasIsNotTakenIn() {
        // The light green also lies far from the object (columns 24–27, top rows): it may be background.
        let (source, region, _) = Self.twoShadeObject(farPatch: true)
        #expect(EditMask.growByAppearance(region, source: source, reach: 8, blur: 0, wrap: true) == region)
    }

    @Test func theMaskIsClearedWhereTheSourceLooksLikeTheBackground() {
        // The whole object is the region; the mask spreads two cells past it on every side.
        let (source, _, object) = Self.twoShadeObject()
        let grown = EditMask.dilate(Tensor(shape: [1, 1, 8, 32], storage: object.map { $0 ? 1 : 0 }), radius: 2, wrap: true)
        let trimmed = EditMask.trimmedByAppearance(grown, region: object, source: source, reach: 8, blur: 0, wrap: true)
        #expect(trimmed.storage.indices.allSatisfy { trimmed.storage[$0] == (object[$0] ? 1 : 0) }, "the object kept, the red ground beside it cleared")
        // A cell of the region's core stays whatever it looks like; with blur 1 the region's
        // outer ring is not core.
        var spilled = object
        spilled[1 * 32 + 10] = true  // ground just above the object
        let kept = EditMask.trimmedByAppearance(grown, region: spilled, source: source, reach: 8, blur: 0, wrap: true)
        #expect(kept.storage[1 * 32 + 10] == 1, "a core cell stays")
        let cut = EditMask.trimmedByAppearance(grown, region: spilled, source: source, reach: 8, blur: 1, wrap: true)
        #expect(cut.storage[1 * 32 + 10] == 0, "ground at the region's rim is not core and is cleared")
        // A look between the two is left as it was.
        var between = source
        for c in 0..<3 { between.storage[c * 256 + 0 * 32 + 10] = [0.45, 0.35, 0.15][c] }
        let betweenKept = EditMask.trimmedByAppearance(grown, region: object, source: between, reach: 8, blur: 0, wrap: true)
        #expect(betweenKept.storage[0 * 32 + 10] == 1, "neither twice as near the ground as the object")
    }

    @Test func theTrimComesBeforeOrAfterTheFeathering() {
        // The prompts' difference is the object exactly; grown by 2 cells and feathered by 2, so
        // untrimmed the mask would reach 4 cells past it.
        let (source, _, object) = Self.twoShadeObject()
        let difference = Tensor(shape: [1, 1, 8, 32], storage: object.map { $0 ? 1 : 0 })
        func shaped(_ trim: EditMask.BackgroundTrim) -> [Float] {
            EditMask.shaped(difference, top: 1, source: source, blur: 0, reach: 8, grow: 2, feather: 2, wrap: true, trim: trim).storage
        }
        func steepest(_ m: [Float]) -> Float {
            var most: Float = 0
            for y in 0..<8 {
                for x in 0..<32 {
                    most = max(most, abs(m[y * 32 + x] - m[y * 32 + (x + 1) % 32]))
                    if y < 7 { most = max(most, abs(m[y * 32 + x] - m[(y + 1) * 32 + x])) }
                }
            }
            return most
        }
        let (before, after) = (shaped(.beforeFeathering), shaped(.afterFeathering))
        #expect(after.indices.allSatisfy { object[$0] || after[$0] == 0 }, "trimmed after feathering, nothing past the object")
        #expect(steepest(after) > 0.9, "so its edge is hard")
        #expect(before[3 * 32 + 18] == 0 && before[3 * 32 + 21] == 0, "trimmed before, nothing 3 cells or more past the object")
        #expect(before[3 * 32 + 17] > 0, "but a faded rim 2 cells wide")
        #expect(steepest(before) <= 0.2 + 1e-5, "whose steps are those of a 5×5 box blur")
        #expect(after[3 * 32 + 11] == 1, "the object's middle is in both")
        #expect(before[3 * 32 + 11] >= 0.8 - 1e-5, "(less what the box takes in from past the 4-row object's edge)")
    }

    @Test func dilationGrowsARegionAndWraps() {
        var map = Tensor(zeros: [1, 1, 3, 8])
        map.storage[1 * 8 + 0] = 1
        let grown = EditMask.dilate(map, radius: 1, wrap: true)
        #expect(grown.storage.filter { $0 == 1 }.count == 9, "a 3×3 block")
        #expect(grown.storage[0 * 8 + 7] == 1 && grown.storage[2 * 8 + 1] == 1 && grown.storage[1 * 8 + 2] == 0)
        #expect(EditMask.dilate(map, radius: 0, wrap: true).storage == map.storage)
    }

    @Test func theBlurKeepsAConstantAndWrapsAcrossTheEdge() {
        let constant = Tensor(shape: [1, 1, 4, 8], storage: Array(repeating: 0.5, count: 32))
        #expect(EditMask.boxBlur(constant, radius: 1, wrap: false).storage.allSatisfy { abs($0 - 0.5) < 1e-6 })
        var spike = Tensor(zeros: [1, 1, 4, 8])
        spike.storage[1 * 8 + 0] = 9
        let wrapped = EditMask.boxBlur(spike, radius: 1, wrap: true)
        let cut = EditMask.boxBlur(spike, radius: 1, wrap: false)
        #expect(wrapped.storage[1 * 8 + 7] == 1, "9 spread over a 3×3 box reaches the last column")
        #expect(cut.storage[1 * 8 + 7] == 0)
    }
}
