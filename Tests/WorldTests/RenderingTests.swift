import Testing
@testable import World

@Suite struct RenderingTests {
    /// A 360° panorama rolled by n columns is the one whose column x shows column x + n, object
    /// index included; a whole turn gives the panorama back, and n and n − width are one turn.
    @Test func rollingMovesColumnsLeftAndAWholeTurnChangesNothing() throws {
        let scene = try #require(WorldScene(caption: "a red ball and a blue cube on grass"))
        let r = WorldExports.panoramaRendering(scene: scene, width: 64, height: 16, fieldOfView: 2 * .pi)
        let rolled = r.rolled(columns: 5)
        for y in 0..<16 {
            for x in 0..<64 {
                let (to, from) = (y * 64 + x, y * 64 + (x + 5) % 64)
                #expect(rolled.objectIndex[to] == r.objectIndex[from])
                #expect(rolled.rgb[(3 * to)..<(3 * to + 3)] == r.rgb[(3 * from)..<(3 * from + 3)])
            }
        }
        #expect(rolled.objectIndex != r.objectIndex, "the objects moved")
        #expect(r.rolled(columns: 64).rgb == r.rgb && r.rolled(columns: 0).objectIndex == r.objectIndex)
        #expect(r.rolled(columns: -59).rgb == rolled.rgb)
    }
}
