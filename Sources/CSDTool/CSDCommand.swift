import ArgumentParser
import Core
import Foundation

@main
struct CSDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csd",
        abstract: "Consistent text-guided editing of videos, panoramas and 3D scenes with diffusion models.",
        subcommands: [SampleCommand.self, EditCommand.self, MetricsCommand.self, WorldCommand.self, NeRFCommand.self, EvalCommand.self])

    /// Runs `body`, turning an `InputError` into one line on stderr and exit status 1.
    static func reportingInputErrors(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as InputError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
