import ArgumentParser
import Core
import Foundation
import World

@main
struct CSDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csd",
        abstract: "Consistent text-guided editing of videos, panoramas and 3D scenes with diffusion models.",
        discussion: "Shell completions: csd --generate-completion-script bash|zsh|fish. A man page: swift package plugin generate-manual (it writes .build/plugins/GenerateManual/outputs/CSDTool/csd.1).",
        version: CSDVersion.current,
        subcommands: [SampleCommand.self, EditCommand.self, ConvertCommand.self, MetricsCommand.self, WorldCommand.self, NeRFCommand.self, EvalCommand.self,
                      TrainCommand.self])

    /// Whether a `--mask` value asks for a mask: true for auto, false for none.
    static func masks(_ value: String) throws -> Bool {
        guard value == "auto" || value == "none" else { throw InputError("--mask", "'\(value)' is not auto or none") }
        return value == "auto"
    }

    /// The `--mask` value that asks for `masks`: the inverse of `masks(_:)`, for options whose
    /// default is an editor's.
    static func maskValue(_ masks: Bool) -> String { masks ? "auto" : "none" }

    /// A `--precision` value: fp32 or bf16.
    static func precision(_ value: String) throws -> ComputePrecision {
        guard let p = ComputePrecision(rawValue: value) else { throw InputError("--precision", "'\(value)' is not fp32 or bf16") }
        return p
    }

    /// A guidance value (`--guidance` unless `option` names another): a finite scale of 0 or more.
    static func guidance(_ value: Float, option: String = "--guidance") throws -> Float {
        guard value.isFinite, value >= 0 else { throw InputError(option, "must be a number of 0 or more") }
        return value
    }

    /// The prompts an evaluation by `--instruction-model` edits a world scene with: CSD-Edit's, no
    /// source text and the instruction the world's grammar phrases from the two scenes as the target.
    static func instructionPrompts(before: WorldScene, after: WorldScene) throws -> (source: String, target: String) {
        guard let instruction = WorldInstruction(from: before, to: after) else {
            throw InputError("--instruction-model", "no instruction of the world's grammar turns '\(before.caption)' into '\(after.caption)'")
        }
        return ("", instruction.text)
    }

    /// A `--bandwidth-scale` value (or `option`'s): a positive, finite number.
    static func bandwidthScale(_ value: Float, option: String = "--bandwidth-scale") throws -> Float {
        guard value > 0, value.isFinite else { throw InputError(option, "must be a positive number") }
        return value
    }

    /// A `--t-range` value, MIN-MAX with MIN ≤ MAX (the model's schedule bounds are checked where
    /// the model is known).
    static func timestepRange(_ text: String) throws -> ClosedRange<Int> {
        let bounds = text.split(separator: "-").compactMap { Int($0) }
        guard bounds.count == 2, bounds[0] <= bounds[1] else { throw InputError("--t-range", "'\(text)' is not MIN-MAX") }
        return bounds[0]...bounds[1]
    }

    /// The model at `path` (a diffusers folder or a single-file checkpoint) with the `--lora`
    /// arguments (`FILE[:scale]`) merged in.
    static func loadModel(_ path: String, variant: String?, loras: [String]) throws -> DiffusionModel {
        try DiffusionModel(path: path, variant: variant, loras: loras.map(LoRA.init(argument:)))
    }

    /// Runs `body`, turning an `InputError` into one line on stderr and exit status 1.
    static func reportingInputErrors(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as InputError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        } catch let error as ExitCode {
            throw error
        } catch {
            // Anything else (a Foundation file error) in the same one-line form, never a raw dump.
            let path = (error as NSError).userInfo[NSFilePathErrorKey] as? String ?? "csd"
            FileHandle.standardError.write(Data("error: \(path): \(AtomicFile.reason(error))\n".utf8))
            throw ExitCode(1)
        }
    }
}
