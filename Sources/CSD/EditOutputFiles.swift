import Core
import Foundation

/// The files an edit writing `output` keeps beside it: its checkpoints, and temporaries a killed
/// write left.
public struct EditOutputFiles: Sendable {
    public let output: String

    public init(output: String) { self.output = output }

    /// The edit's own checkpoint (image, panorama, NeRF).
    public var checkpoint: String { output + ".checkpoint.safetensors" }
    /// A video's checkpoint inside the window being edited.
    public var windowCheckpoint: String { output + ".checkpoint.safetensors.window" }
    /// The folder of a video's finished windows.
    public var finishedWindows: String { output + ".checkpoint.windows" }

    public var checkpoints: [String] { [checkpoint, windowCheckpoint, finishedWindows] }

    /// Checks that `output` has one of the `extensions` (lower case, without the dot), goes
    /// into an existing folder and is not `input`.
    public static func check(input: String, output: String, extensions: [String]) throws {
        guard extensions.contains(where: { output.lowercased().hasSuffix(".\($0)") }) else {
            let names = extensions.map { "." + $0 }
            let list = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + names.last!
            throw InputError(output, "the output must be a \(list) file")
        }
        try AtomicFile.checkDestination(output)
        guard URL(fileURLWithPath: input).standardized.path != URL(fileURLWithPath: output).standardized.path else {
            throw InputError(output, "would overwrite the input")
        }
    }

    /// Removes what killed writes of the output and its checkpoints left half-written.
    public func removeStrayTemporaries() {
        for path in [output] + checkpoints { AtomicFile.removeStrayTemporaries(of: path) }
    }

    /// After the output is written: removes its checkpoints and any stray temporary file.
    public func removeCheckpoints() {
        for path in checkpoints { AtomicFile.remove(path) }
        removeStrayTemporaries()
    }
}
