import ArgumentParser
import Core
import Foundation
import World

/// `csd eval instruct`: the instruction model's quality gate.
struct EvalInstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instruct",
        abstract: "Apply held-out instructions to held-out scenes by sampling the instruction model; judge against the ideal edits.")
    @Option(help: "Instruction model folder.") var model: String = "Models/instruct"
    @Option(help: "Cases (held-out scenes, each with a held-out instruction).") var cases: Int = 100
    @Option(help: "DDIM steps.") var steps: Int = 20
    @Option(help: "Text guidance scale.") var guidance: Float = 7.5
    @Option(help: "Image guidance scale.") var imageGuidance: Float = 3
    @Option(help: "Image side (the analyser's size).") var size: Int = 64
    @Option(help: "Write source, output and ideal edit of every case as a grid PNG here.") var grid: String?
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var console: ConsoleOptions

    /// The gate's targets.
    static let successTarget = 0.9, psnrTarget = 28.0

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            guard (1...10_000).contains(cases), (1...1000).contains(steps) else { throw InputError("eval instruct", "--cases 1...10000 and --steps 1...1000") }
            guard (16...512).contains(size) else { throw InputError("--size", "must be between 16 and 512") }
            guard guidance.isFinite, imageGuidance.isFinite else { throw InputError("eval instruct", "guidance scales must be finite") }
            if let grid { try AtomicFile.checkDestination(grid) }
            BLAS.prepare()
            let diffusion = try DiffusionModel(path: model)
            try diffusion.require(instructionModel: true, option: "eval instruct")
            let start = Date()
            let all = InstructionEvaluation.cases(count: cases, size: size)
            let bar = ProgressBar(label: "sampling", total: cases)
            let result = InstructionEvaluation.run(all, model: diffusion, steps: steps, guidance: guidance, imageGuidance: imageGuidance,
                                                   analyser: SceneAnalyser(size: size)) { bar.update($0) }
            bar.finish()
            if let grid {
                try RGBImage.grid(zip(all, result.outputs).flatMap { [$0.0.source, $0.1, $0.0.ideal] }, columns: 12).writePNG(to: grid)
            }
            var missed = [String]()
            if result.success < Self.successTarget { missed.append(String(format: "success %.1f%% < 90%%", 100 * result.success)) }
            if result.psnrToIdeal < Self.psnrTarget { missed.append(String(format: "PSNR to the ideal %.2f dB < 28 dB", result.psnrToIdeal)) }
            let seconds = Date().timeIntervalSince(start)
            if json {
                try Console.printJSON(["model": model, "cases": result.cases, "steps": steps, "guidance": Double(guidance),
                                       "image_guidance": Double(imageGuidance), "success": result.success, "psnr_to_ideal": result.psnrToIdeal,
                                       "unchanged_psnr": result.unchangedPSNR, "missed": missed, "seconds": seconds])
                return
            }
            print(String(format: "%d held-out cases: success %.1f%%, PSNR to the ideal %.2f dB (%.2f dB where the edit changes nothing), %.0f s",
                         result.cases, 100 * result.success, result.psnrToIdeal, result.unchangedPSNR, seconds))
            print(missed.isEmpty ? "every target met" : "missed: " + missed.joined(separator: "; "))
        }
    }
}
