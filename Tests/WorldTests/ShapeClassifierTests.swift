import Core
import Foundation
import Testing
@testable import World

@Suite struct ShapeClassifierTests {
    /// The Swift network gives the logits PyTorch gave for the same 16 inputs
    /// (`Fixtures/shape-classifier-reference.safetensors`, written by `Tools/train_shape_classifier.py`).
    @Test func logitsMatchPyTorch() throws {
        let folder = try #require(Bundle.module.resourcePath).appending("/Fixtures")
        let reference = try SafetensorsFile(path: "\(folder)/shape-classifier-reference.safetensors")
        let inputs = try reference.tensor("inputs"), expected = try reference.tensor("logits")
        #expect(inputs.shape == [16, ShapeClassifier.inputPlanes, ShapeClassifier.inputSide, ShapeClassifier.inputSide])
        let logits = try ShapeClassifier.bundled().logits(inputs)
        let scale = expected.storage.map(abs).max()!
        #expect(logits.shape == expected.shape)
        #expect(logits.maxAbsDifference(expected) <= 1e-4 * scale, "max abs difference \(logits.maxAbsDifference(expected)), scale \(scale)")
    }

    /// The input is the region's mask and its relative shading, cropped around it: moving the
    /// object leaves it unchanged, and a region too small to measure has none.
    @Test func inputFollowsTheRegionNotItsPlace() throws {
        let size = 32
        func square(at x0: Int, _ y0: Int) -> ([Bool], [SIMD3<Float>]) {
            var region = [Bool](repeating: false, count: size * size)
            var pixels = [SIMD3<Float>](repeating: [0.2, 0.5, 0.2], count: size * size)
            for y in y0..<(y0 + 8) { for x in x0..<(x0 + 6) {
                region[y * size + x] = true
                pixels[y * size + x] = x < x0 + 3 ? [0.8, 0.1, 0.1] : [0.4, 0.05, 0.05]
            } }
            return (region, pixels)
        }
        let a = try #require(ShapeClassifier.input(region: square(at: 4, 5).0, pixels: square(at: 4, 5).1, size: size))
        let b = try #require(ShapeClassifier.input(region: square(at: 17, 12).0, pixels: square(at: 17, 12).1, size: size))
        let moved = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(a.count == b.count && moved < 1e-5, "moving the object changed its input by \(moved)")
        let side = ShapeClassifier.inputSide
        // The centre of the crop is inside the region; the brightness plane averages 1 over it.
        #expect(a[(side / 2) * side + side / 2] == 1)
        let lit = a[side * side + (side / 2) * side + side / 2 - 2], shaded = a[side * side + (side / 2) * side + side / 2 + 2]
        #expect(abs(lit - 4.0 / 3) < 1e-4 && abs(shaded - 2.0 / 3) < 1e-4, "\(lit) \(shaded)")
        var tiny = [Bool](repeating: false, count: size * size)
        for p in 0..<5 { tiny[p] = true }
        #expect(ShapeClassifier.input(region: tiny, pixels: square(at: 4, 5).1, size: size) == nil)
    }

    /// Weights that do not fit the network are refused with the file named.
    @Test func weightsOfTheWrongShapeAreRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shape-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsFile.write(["conv1.weight": Tensor(zeros: [16, 3, 3, 3]), "conv1.bias": Tensor(zeros: [16])], to: path)
        #expect { try ShapeClassifier(path: path) } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("conv1.weight")
        }
    }
}
