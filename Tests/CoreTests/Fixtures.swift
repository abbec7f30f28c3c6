import Foundation
import Testing
@testable import Core

/// Paths into the committed fixtures and the reference tensors made by Tools/make_fixtures.py.
enum Fixtures {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path
    static func path(_ relative: String) -> String { "\(root)/\(relative)" }
    static let references = try! SafetensorsFile(path: path("references.safetensors"))
    static func reference(_ name: String) -> Tensor { try! references.tensor(name) }

    /// A scratch folder removed by the caller.
    static func scratch() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-tests-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Expects `actual` to match `expected` within `relative × max(max|expected|, floor)`.
func expectClose(_ actual: Tensor, _ expected: Tensor, relative: Float = 1e-4, floor: Float = 1e-6, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    let scale = max(expected.maxAbs, floor)
    let error = actual.maxAbsDifference(expected)
    #expect(error <= relative * scale, "\(what): max abs error \(error) exceeds \(relative) × \(scale)", sourceLocation: sourceLocation)
}
