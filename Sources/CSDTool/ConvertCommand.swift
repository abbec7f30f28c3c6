import ArgumentParser
import Core
import Foundation

/// `csd convert`: a single-file SD checkpoint to a diffusers folder.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a single-file SD 1.x/2.x checkpoint (.safetensors with LDM names) as a diffusers folder.",
        discussion: "Tensors keep the file's dtype. The folder is written under a temporary name and renamed when complete; an existing folder is refused.")

    @Argument(help: "The single-file checkpoint (.safetensors).") var checkpoint: String
    @Option(name: .shortAndLong, help: "The diffusers folder to create.") var output: String

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            guard URL(fileURLWithPath: output).standardized.path != URL(fileURLWithPath: checkpoint).standardized.path else {
                throw InputError(output, "is the input; give a new folder")
            }
            let file = try SingleFileCheckpoint(path: checkpoint)
            try file.writeDiffusersFolder(to: output)
            let unet = file.unetConfig
            Console.say("\(file.family.rawValue) checkpoint → \(output): UNet \(unet["block_out_channels"] ?? ""), \(file.schedulerConfig["prediction_type"] ?? "") prediction")
        }
    }
}
