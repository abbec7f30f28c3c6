import Foundation

/// A working folder of one run in the temporary folder, `PREFIX-PID-N`. A run killed before it
/// could remove its own (SIGKILL, a power cut) leaves one behind; making a new folder of the same
/// prefix removes those whose process is gone, so they do not pile up.
public enum ScratchFolder {
    /// Creates a fresh folder `PREFIX-PID-N` in `parent` after removing that prefix's folders
    /// whose process no longer runs, and returns its path. The caller removes it when done.
    public static func create(prefix: String, in parent: String = NSTemporaryDirectory()) throws -> String {
        removeAbandoned(prefix: prefix, in: parent)
        let pid = getpid()
        for n in 0..<1000 {
            let path = URL(fileURLWithPath: parent).appendingPathComponent("\(prefix)-\(pid)-\(n)").path
            guard !FileManager.default.fileExists(atPath: path) else { continue }
            try AtomicFile.createFolder(path)
            return path
        }
        throw InputError(parent, "holds 1000 working folders \(prefix)-\(pid)-N already")
    }

    /// Removes the folders `PREFIX-PID-…` in `parent` whose process `PID` is not running.
    public static func removeAbandoned(prefix: String, in parent: String = NSTemporaryDirectory()) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix(prefix + "-") {
            let rest = name.dropFirst(prefix.count + 1)
            guard let digits = rest.split(separator: "-", maxSplits: 1).first, let pid = Int32(digits), pid > 0, !isRunning(pid) else { continue }
            try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: parent).appendingPathComponent(name).path)
        }
    }

    /// Whether a process `pid` exists (one of another user's counts: `kill` is refused, not failed).
    static func isRunning(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
