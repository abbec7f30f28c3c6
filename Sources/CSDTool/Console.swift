import CSD
import ArgumentParser
import Foundation

/// What a command prints besides its errors and warnings: progress bars and summary lines, both
/// silenced by `--quiet`. Output a user asked for (`--json`) is printed either way.
enum Console {
    nonisolated(unsafe) static var isQuiet = false

    /// A summary line on stdout, unless quiet.
    static func say(_ line: String) { if !isQuiet { print(line) } }

    /// One JSON object on stdout, keys sorted (snake_case throughout), whether quiet or not.
    static func printJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: jsonSafe(object), options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// `value` with every non-finite number (a figure with nothing to measure, NaN) as null,
    /// which JSON can hold.
    static func jsonSafe(_ value: Any) -> Any {
        switch value {
        case let d as Double: return d.isFinite ? d : NSNull()
        case let f as Float: return f.isFinite ? f : NSNull()
        case let dictionary as [String: Any]: return dictionary.mapValues(jsonSafe)
        case let array as [Any]: return array.map(jsonSafe)
        default: return value
        }
    }

    /// A warning on stderr, always.
    static func warn(_ line: String) { FileHandle.standardError.write(Data("warning: \(line)\n".utf8)) }
}

/// `--quiet`, taken by every command that draws progress or prints a summary.
struct ConsoleOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Print only errors, warnings and --json output: no progress bar, no summary.") var quiet = false

    /// Makes the process quiet when asked.
    func apply() { if quiet { Console.isQuiet = true } }
}

/// Draws an edit's progress events as bars on stderr, a new bar when the label changes.
final class ProgressDisplay {
    private var bar: ProgressBar?

    func show(_ progress: EditProgress) {
        if bar?.label != progress.label {
            bar?.finish()
            bar = ProgressBar(label: progress.label, total: progress.total)
        }
        bar?.update(progress.step)
    }

    func finish() {
        bar?.finish()
        bar = nil
    }
}
