import Core
import Testing
@testable import World

@Suite struct WorldInstructionTests {
    /// Every random instruction parses back, against its scene, to the same changes, and
    /// changes the scene.
    @Test func randomInstructionsParseBackAndChangeTheScene() throws {
        var kinds = Set<String>()
        for seed in UInt64(0)..<400 {
            let scene = WorldScene.random(seed: seed)
            let instruction = WorldInstruction.random(for: scene, seed: seed)
            let parsed = try #require(WorldInstruction(text: instruction.text, scene: scene), "'\(instruction.text)'")
            #expect(parsed.changes == instruction.changes, "'\(instruction.text)'")
            #expect(instruction.applied(to: scene) != scene, "'\(instruction.text)' changes nothing")
            kinds.insert(instruction.text.split(separator: " ").prefix(2).joined(separator: " ") + (instruction.changes.count > 1 ? "+" : ""))
        }
        #expect(kinds.isSuperset(of: ["make the", "make the+", "turn the", "make it"]))
    }

    @Test func instructionsNameWhatTheSceneHas() throws {
        let scene = try #require(WorldScene(caption: "a red ball and a blue ball and a green cube on grass"))
        let two = try #require(WorldInstruction(text: "make the red ball yellow and the cube white", scene: scene))
        #expect(two.changes == [.recolor(object: 0, to: .yellow), .recolor(object: 2, to: .white)])
        #expect(WorldInstruction(text: "make the ball yellow", scene: scene) == nil, "two balls: which one?")
        #expect(WorldInstruction(text: "turn the sand into snow", scene: scene) == nil, "the scene is on grass")
        #expect(WorldInstruction(text: "paint it black", scene: scene) == nil)
        let night = try #require(WorldInstruction(text: "turn the grass into snow and make it night", scene: scene))
        #expect(night.applied(to: scene).caption == "a red ball, a blue ball and a green cube on snow at night")
    }

    /// The instruction between two captions is the one that turns the first into the second.
    @Test func theInstructionBetweenTwoScenes() throws {
        for seed in UInt64(0)..<200 {
            let scene = WorldScene.random(seed: seed)
            let instruction = WorldInstruction.random(for: scene, seed: seed)
            let edited = instruction.applied(to: scene)
            let between = try #require(WorldInstruction(from: scene, to: edited), "'\(instruction.text)'")
            #expect(between.applied(to: scene) == edited, "'\(between.text)' against '\(instruction.text)'")
            #expect(WorldInstruction(text: between.text, scene: scene)?.applied(to: scene) == edited, "'\(between.text)' parses back")
        }
        let two = try #require(WorldScene(caption: "a red ball and a red cube on grass"))
        let blue = try #require(WorldScene(caption: "a blue ball and a blue cube on grass"))
        #expect(WorldInstruction(from: two, to: blue)?.text == "make the ball blue and the cube blue")
        #expect(WorldInstruction(from: two, to: two) == nil, "nothing to change")
        #expect(WorldInstruction(from: two, to: try #require(WorldScene(caption: "a red ball on grass"))) == nil, "an object gone")
    }

    /// Training pairs never use a held-out instruction, and the gate's cases use only those.
    @Test func heldOutInstructionsStayOutOfTraining() {
        for seed in UInt64(0)..<300 {
            let (_, instruction, edited) = WorldInstructionDataset.pair(seed: seed)
            #expect(!instruction.isHeldOut && !WorldInstruction.resultIsHeldOut(edited))
        }
        let cases = InstructionEvaluation.cases(count: 12, size: 32)
        #expect(cases.allSatisfy { $0.instruction.isHeldOut })
    }

    /// The analyser's verdict: the ideal edit succeeds and the unedited source does not.
    @Test func theIdealEditSucceedsAndTheSourceDoesNot() {
        let analyser = SceneAnalyser(size: 64)
        let cases = InstructionEvaluation.cases(count: 24, size: 64)
        let ideal = cases.filter { InstructionEvaluation.succeeded($0.ideal, $0, analyser: analyser) }.count
        let source = cases.filter { InstructionEvaluation.succeeded($0.source, $0, analyser: analyser) }.count
        #expect(ideal >= 21 && source <= 2, "ideal \(ideal)/24, source \(source)/24")
    }
}
