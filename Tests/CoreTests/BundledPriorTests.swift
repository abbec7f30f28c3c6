import Foundation
import Testing
@testable import Core

/// The Swift runtime and PyTorch agree on the bundled prior (Models/prior).
@Suite struct BundledPriorTests {
    static let modelFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models/prior").path

    @Test func twentyDDIMStepsMatchPyTorch() throws {
        let reference = try SafetensorsFile(path: Fixtures.path("prior-reference.safetensors"))
        let training = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(Self.modelFolder)/training.json"))) as? [String: Any]
        let trained = training?["steps"] as? Int
        #expect(reference.metadata["trained_steps"] == trained.map(String.init),
                "the reference was made from other weights: rerun Tools/make_prior_reference.py")
        let model = try DiffusionModel(folder: Self.modelFolder)
        let image = model.sample(prompt: reference.metadata["prompt"]!, noise: try reference.tensor("noise"), steps: 20,
                                 guidance: Float(reference.metadata["guidance"]!)!,
                                 useClippedModelOutput: reference.metadata["use_clipped_model_output"] == "true")
        let expected = try reference.tensor("image")
        let error = image.maxAbsDifference(expected)
        #expect(error <= 1e-3, "max abs error \(error)")
    }
}
