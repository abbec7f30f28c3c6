import Testing
@testable import Core

@Suite struct CLIPTextModelTests {
    @Test func hiddenStatesAndPoolingMatchTransformers() throws {
        let model = try CLIPTextModel(folder: Fixtures.path("tiny-sd/text_encoder"))
        let ids = Fixtures.reference("text.ids")
        let rows = (0..<ids.shape[0]).map { r in (0..<ids.shape[1]).map { Int(ids.storage[r * ids.shape[1] + $0]) } }
        let out = model(rows)
        expectClose(out.lastHiddenState, Fixtures.reference("text.last"), "last hidden state")
        expectClose(out.pooled, Fixtures.reference("text.pooled"), "pooled output")
    }
}
