import ArgumentParser
import CSD
import Core
import Foundation
import NeRF
import Video

/// `csd nerf edit`: a fitted field edited from a source prompt to a target prompt through its views.
struct NeRFEdit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit", abstract: "Edit a fitted radiance field so that every view shows the target prompt.")
    @Argument(help: "Field written by `csd nerf fit`.") var field: String
    @Option(help: "The scene the field was fitted to (its cameras are the views edited).") var scene: String
    @Option(name: .shortAndLong, help: "Edited field (.safetensors).") var output: String
    @Option(help: "csd (views coupled), dds (views on their own), cds (on their own, DDS plus CDS's patch-contrastive term), dataset-update (Instruct-NeRF2NeRF's recipe with DDS) or dataset-update-csd.")
    var method: String = "csd"
    @Option(help: "Views rendered and scored per step, drawn at random (0: all).") var views: Int = 8
    @Option(help: "Scale of CSD's median-heuristic bandwidth across the views.") var bandwidthScale: Float = NeRFEditSettings().edit.bandwidthScale
    @Option(help: "Leave every Kth camera out of the edit, as `csd nerf fit` left it out of the fit (0: none).") var holdOut: Int = 8
    @Flag(help: "Let the edit move density (geometry) as well as colour.") var geometry = false
    @Option(help: "Dataset update: field steps between replacements of training images.") var replaceEvery: Int = 10
    @Option(help: "Dataset update: rays per field step.") var rays: Int = 4096
    @Option(help: "Dataset update: Adam's learning rate of the field's fit to the images (--lr is then the images' edits' SGD rate).")
    var fieldLr: Float = NeRFEditSettings().fieldLearningRate
    @Option(help: "Also write an orbit video of the edited field here (.mp4).") var orbit: String?
    @Option(help: "Frames of that orbit.") var orbitFrames: Int = 48
    @Option(help: "Also write the held-out views here (.png): the scene's images, the field before, and after the edit.") var contactSheet: String?
    @OptionGroup var options: EditOptions

    /// The settings the options give, checked.
    func settings() throws -> NeRFEditSettings {
        guard let m = NeRFEditSettings.Method(rawValue: method) else {
            throw InputError("--method", "'\(method)' is not csd, dds, cds, dataset-update or dataset-update-csd")
        }
        guard options.optimizer == nil else { throw InputError("--optimizer", "a NeRF edit moves the field by Adam; the option does not apply") }
        var s = NeRFEditSettings()
        s.method = m
        s.edit = try options.settings(method: m.coupling, defaultLearningRate: NeRFEditSettings.defaultLearningRate(for: m),
                                      defaultGuidance: s.edit.guidance)
        (s.viewsPerStep, s.editsGeometry, s.replaceEvery, s.raysPerStep, s.fieldLearningRate) = (views, geometry, replaceEvery, rays, fieldLr)
        s.edit.bandwidthScale = try CSDCommand.bandwidthScale(bandwidthScale)
        return try s.validated()
    }

    func run() throws {
        try CSDCommand.reportingInputErrors {
            try options.check(input: field, output: output, ext: "safetensors")
            if options.reference != nil {
                throw InputError("--reference", "measures image, video and panorama edits; a field is measured by csd eval nerf")
            }
            for extra in [orbit, contactSheet].compactMap({ $0 }) { try AtomicFile.checkDestination(extra) }
            if let orbit { guard orbit.lowercased().hasSuffix(".mp4") else { throw InputError(orbit, "the orbit is written as .mp4") } }
            if let contactSheet { guard contactSheet.lowercased().hasSuffix(".png") else { throw InputError(contactSheet, "the contact sheet is written as .png") } }
            guard (1...100_000).contains(orbitFrames), holdOut >= 0 else { throw InputError("nerf edit", "--orbit-frames 1...100000, --hold-out ≥ 0") }
            let prompts = try options.prompts()
            var configuration = NeRFFieldEdits.Configuration(sourcePrompt: prompts.source, targetPrompt: prompts.target)
            (configuration.settings, configuration.holdOut, configuration.workingSize) = (try settings(), holdOut, options.workingSize)
            let radiance = try GridRadianceField(path: field)
            let dataset = try NeRFCommand.dataset(scene)
            BLAS.prepare()
            let model = try CSDCommand.loadModel(options.model, variant: options.variant, loras: options.loras)
            let (display, log) = (ProgressDisplay(), StepLog())
            let heldOut = RadianceFieldFit.heldOut(count: dataset.views.count, every: holdOut)
            let shown = heldOut.isEmpty ? Array(dataset.views.indices.prefix(8)) : heldOut
            // The held-out views before the edit (the editor edits a copy of the field).
            let before = options.report != nil || contactSheet != nil ? shown.map { radiance.render(camera: dataset.views[$0].camera) } : []
            var (after, sheet) = ([RGBImage](), RGBImage?.none)
            let (outcome, _) = try NeRFFieldEdits.edit(radiance, dataset: dataset, scene: scene, model: model, configuration: configuration,
                                                       writingTo: output, run: options.editRun(display, log: log)) { edited in
                display.finish()
                if let orbit { try NeRFCommand.writeOrbit(of: edited, around: dataset, frames: orbitFrames, frameRate: 24, to: orbit) }
                if contactSheet != nil || options.report != nil {
                    after = shown.map { edited.render(camera: dataset.views[$0].camera) }
                    sheet = RGBImage.grid(shown.map { dataset.views[$0].image } + before + after, columns: shown.count)
                }
                if let contactSheet, let sheet { try sheet.writePNG(to: contactSheet) }
            }
            display.finish()
            try options.writeReport(outcome, kind: "nerf", settings: configuration.settings.edit, log: log, before: before.first, after: after.first,
                                    contactSheet: sheet)
            options.report(outcome, wrote: output + (outcome == .finished ? (orbit.map { ", \($0)" } ?? "") + (contactSheet.map { ", \($0)" } ?? "") : ""))
        }
    }
}

