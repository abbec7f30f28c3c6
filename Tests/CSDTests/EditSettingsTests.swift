import Foundation
import Testing
@testable import CSD

@Suite struct EditSettingsTests {
    @Test func stepDecayMultipliesByTheFactorEveryInterval() {
        var settings = EditSettings()
        (settings.learningRate, settings.decayEvery, settings.decayFactor) = (2.0, 20, 0.9)
        #expect(settings.learningRate(atStep: 0) == 2.0 && settings.learningRate(atStep: 19) == 2.0)
        #expect(abs(settings.learningRate(atStep: 20) - 1.8) < 1e-6)
        #expect(abs(settings.learningRate(atStep: 45) - 1.62) < 1e-6)
        settings.decayEvery = 0
        #expect(settings.learningRate(atStep: 1000) == 2.0, "0 means no decay")
    }

    /// Settings without an instruction encode without the key, so checkpoints written before
    /// CSD-Edit existed still match; with one, the image guidance round-trips.
    @Test func instructionSettingsStayOutOfOlderCheckpoints() throws {
        let plain = String(decoding: try EditSettings.encoder.encode(EditSettings()), as: UTF8.self)
        #expect(!plain.contains("instructed"))
        var settings = EditSettings()
        settings.instructed = EditSettings.Instructed(imageGuidance: 3)
        let decoded = try JSONDecoder().decode(EditSettings.self, from: try EditSettings.encoder.encode(settings))
        #expect(decoded == settings && decoded.instructed?.imageGuidance == 3)
        #expect(try JSONDecoder().decode(EditSettings.self, from: Data(plain.utf8)).instructed == nil)
    }
}
