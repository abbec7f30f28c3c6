import Core
import Foundation
import Testing
import World

@Suite struct MotionFieldTests {
    func video(_ motion: WorldMotion) -> ([RGBImage], WorldGroundTruth) {
        WorldExports.video(scene: WorldScene(caption: "a red ball and a blue cube on sand")!, frames: 6, width: 96, height: 64,
                           frameRate: 6, motion: motion)
    }

    /// Mean |later − earlier| at the same pixels: what a field that ignores motion would measure.
    func naiveDifference(_ a: RGBImage, _ b: RGBImage, where mask: [Bool]) -> Double {
        var (sum, count) = (0.0, 0)
        for p in mask.indices where mask[p] {
            for c in 0..<3 { sum += abs(Double(a.pixels[p * 3 + c]) - Double(b.pixels[p * 3 + c])) }
            count += 3
        }
        return sum / Double(count)
    }

    @Test func aViewAgainstItselfMapsEveryVisiblePixelOntoItself() {
        let (_, truth) = video(.orbit)
        let field = MotionField(from: truth.views[2], to: truth.views[2], width: truth.width, height: truth.height, focal: truth.focal!)
        let mapped = field.earlierPosition.enumerated().compactMap { i, p in p.map { (i, $0) } }
        #expect(mapped.count > truth.width * truth.height / 3)
        for (i, p) in mapped {
            #expect(abs(p.x - (Float(i % truth.width) + 0.5)) < 1e-2 && abs(p.y - (Float(i / truth.width) + 0.5)) < 1e-2, "pixel \(i) → \(p)")
        }
    }

    @Test(arguments: [WorldMotion.orbit, .objects])
    func warpingByTheTrueMotionExplainsTheSourceFrames(motion: WorldMotion) throws {
        let (frames, truth) = video(motion)
        for t in 1..<frames.count {
            let field = MotionField(from: truth.views[t - 1], to: truth.views[t], width: truth.width, height: truth.height, focal: truth.focal!)
            let mask = field.earlierPosition.map { $0 != nil }
            let (warped, pixels) = field.warpError(later: frames[t], earlier: frames[t - 1])
            let naive = naiveDifference(frames[t], frames[t - 1], where: mask)
            #expect(pixels > truth.width * truth.height / 2)
            #expect(warped < 0.5 * naive, "frame \(t): warp error \(warped) vs \(naive) without motion")
            #expect(warped < 3, "frame \(t): warp error \(warped)")
        }
        // A flicker that differs from frame to frame raises it.
        var flickering = frames
        for t in flickering.indices where t % 2 == 1 {
            for i in flickering[t].pixels.indices where i % 3 == 0 { flickering[t].pixels[i] = UInt8(min(255, Int(flickering[t].pixels[i]) + 20)) }
        }
        let clean = try MotionField.warpError(frames: frames, truth: truth)
        let noisy = try MotionField.warpError(frames: flickering, truth: truth)
        #expect(noisy > clean + 5, "flicker: \(noisy) vs \(clean)")
    }

    @Test func framesThatDoNotMatchTheGroundTruthAreAnError() {
        let (frames, truth) = video(.orbit)
        #expect(throws: InputError.self) { try MotionField.warpError(frames: Array(frames.prefix(3)), truth: truth) }
    }
}
