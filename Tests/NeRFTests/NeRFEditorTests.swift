import CSD
import Core
import Foundation
import Testing
import World
@testable import NeRF

@Suite struct NeRFEditorTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let prior = "\(root)/Models/prior", tinySD = "\(root)/Tests/CoreTests/Fixtures/tiny-sd"

    /// A world scene of 8 views at 16², and a coarse field fitted to it.
    static let fitted: (field: GridRadianceField, views: [NeRFView]) = {
        let scene = WorldScene(caption: "a red ball on grass", seed: 2)!
        let renderer = WorldRenderer(scene: scene)
        let views = WorldExports.nerfCameras(views: 8).map { camera -> NeRFView in
            let r = renderer.render(camera: camera, width: 16, height: 16)
            let f = camera.focal(width: 16)
            return NeRFView(image: RGBImage(width: 16, height: 16, pixels: r.bytes),
                            camera: NeRFCamera(width: 16, height: 16, focalX: f, focalY: f, centerX: 8, centerY: 8, cameraToWorld: camera.cameraToWorld))
        }
        let trainer = RadianceFieldTrainer(views: views, contraction: SceneContraction(cameraToWorld: views.map(\.camera.cameraToWorld)),
                                           resolutions: [16], totalSteps: 60, raysPerStep: 512)
        for _ in 0..<60 { trainer.advance() }
        return (trainer.field, views)
    }()

    static func settings(_ method: NeRFEditSettings.Method, steps: Int = 4) -> NeRFEditSettings {
        var s = NeRFEditSettings()
        (s.method, s.edit.steps, s.viewsPerStep, s.replaceEvery, s.raysPerStep) = (method, steps, 3, 2, 256)
        return s
    }

    static func editor(_ method: NeRFEditSettings.Method, model: String = prior, steps: Int = 4) throws -> NeRFFieldEdit {
        try editor(settings(method, steps: steps), model: model)
    }

    static func editor(_ s: NeRFEditSettings, model: String = prior) throws -> NeRFFieldEdit {
        try NeRFFieldEdits.make(model: try DiffusionModel(folder: model), field: fitted.field, cameras: fitted.views.map(\.camera),
                                images: fitted.views.map(\.image), settings: s, sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
    }

    /// Without `editsGeometry` an edit moves colours (and the sky) but no density, and leaves the
    /// field it started from as it was; with it, density moves too.
    @Test func anEditMovesColourButNotGeometryUnlessAsked() throws {
        let before = Self.fitted.field.values
        let e = try Self.editor(.csd)
        for _ in 0..<2 { e.advance() }
        let after = e.field.values
        #expect(Self.fitted.field.values == before)
        #expect(after.indices.allSatisfy { $0 & 3 != 0 || after[$0] == before[$0] })
        #expect(after.indices.contains { $0 & 3 != 0 && after[$0] != before[$0] } && e.field.environment != Self.fitted.field.environment)
        var s = Self.settings(.dds)
        s.editsGeometry = true
        let free = try NeRFEditor(model: try DiffusionModel(folder: Self.prior), field: Self.fitted.field, cameras: Self.fitted.views.map(\.camera),
                                  settings: s, sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
        free.advance()
        #expect(free.field.values.indices.contains { $0 & 3 == 0 && free.field.values[$0] != before[$0] })
    }

    /// A field whose colour logits lie far past the bound (as fits made before it had one)
    /// starts the edit clamped into it and stays there; its density is left as it was.
    @Test func anEditStartsFromBoundedColourLogitsAndKeepsThem() throws {
        let saturated = Self.fitted.field.copy()
        for i in saturated.values.indices where i & 3 == 3 { saturated.values[i] = -15 }
        for i in saturated.environment.indices { saturated.environment[i] = 15 }
        let e = try NeRFEditor(model: try DiffusionModel(folder: Self.prior), field: saturated, cameras: Self.fitted.views.map(\.camera),
                               settings: Self.settings(.csd), sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
        let bound = GridRadianceField.colorLogitBound
        func colors() -> [Float] { e.field.values.indices.filter { $0 & 3 != 0 }.map { e.field.values[$0] } + e.field.environment }
        #expect(colors().allSatisfy { abs($0) <= bound } && colors().contains(-bound))
        for _ in 0..<2 { e.advance() }
        #expect(colors().allSatisfy { abs($0) <= bound })
        #expect(e.field.values.indices.allSatisfy { $0 & 3 != 0 || e.field.values[$0] == saturated.values[$0] })
    }

    /// A latent model's views go through the VAE's encoder and its updates come back through the
    /// encoder's backward.
    @Test func aLatentModelEditsThroughTheEncoder() throws {
        let e = try Self.editor(.csd, model: Self.tinySD)
        e.advance()
        #expect(e.field.values != Self.fitted.field.values && e.field.values.allSatisfy(\.isFinite))
    }

    /// Stopped and resumed from a checkpoint, an edit ends at the same bytes as one never stopped.
    @Test(arguments: [NeRFEditSettings.Method.csd, .datasetUpdateCSD])
    func aResumedEditEndsWhereAnUninterruptedOneDoes(method: NeRFEditSettings.Method) throws {
        let path = NSTemporaryDirectory() + "nerf-edit-\(method.rawValue)-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let straight = try Self.editor(method)
        while straight.step < 4 { straight.advance() }
        let first = try Self.editor(method)
        while first.step < 3 { first.advance() }
        try first.saveCheckpoint(to: path)
        let resumed = try Self.editor(method)
        try resumed.loadCheckpoint(from: path)
        #expect(resumed.step == 3)
        resumed.advance()
        #expect(resumed.field.values == straight.field.values && resumed.field.environment == straight.field.environment)
        #expect(straight.field.values != Self.fitted.field.values)
        var other = Self.settings(method)
        other.edit.seed = 99
        let mismatched = try Self.editor(other)
        #expect(throws: InputError.self) { try mismatched.loadCheckpoint(from: path) }
    }

    /// `precision` bf16 changes the edit (its scores run on bf16 products), and a checkpoint made
    /// in one precision does not resume in the other.
    @Test(.enabled(if: ComputePrecision.bf16.isAvailable, "this CPU has no AVX512-BF16"))
    func aBF16EditDiffersAndDoesNotResumeAnFP32One() throws {
        let path = NSTemporaryDirectory() + "nerf-edit-bf16-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fp32 = try Self.editor(.csd)
        fp32.advance()
        try fp32.saveCheckpoint(to: path)
        var settings = Self.settings(.csd)
        settings.edit.precision = .bf16
        let bf16 = try Self.editor(settings)
        bf16.advance()
        #expect(bf16.field.values != fp32.field.values)
        #expect(ComputePrecision.current == .fp32, "the edit restores the thread's precision")
        let resumed = try Self.editor(settings)
        #expect(throws: InputError.self) { try resumed.loadCheckpoint(from: path) }
    }
}

