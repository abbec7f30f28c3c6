import Foundation

/// Writes files through a temporary sibling that is renamed into place only when complete,
/// so an interrupted or failed write never leaves a half-written output.
public enum AtomicFile {
    /// A temporary path in the same folder as `path` (so the rename stays on one file system).
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())").path
    }

    /// Removes the temporary siblings (`.NAME.partial-PID`) that writes of `path` killed before
    /// their rename left behind, from any process.
    public static func removeStrayTemporaries(of path: String) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let prefix = ".\(url.lastPathComponent).partial-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(prefix) {
            try? FileManager.default.removeItem(atPath: "\(folder)/\(name)")
        }
    }

    /// Checks that the folder `path` goes into exists, before any work is done.
    public static func checkDestination(_ path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError(path, "the output folder \(folder) does not exist")
        }
    }

    /// Creates the folder `path` (and its parents), or fails in one line naming it and why.
    public static func createFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            // Name a file standing where a folder should, which Foundation reports only as "error 512".
            var ancestor = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            while ancestor.path != "/" && !FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory) {
                ancestor.deleteLastPathComponent()
            }
            let why = isDirectory.boolValue || ancestor.path == "/" ? reason(error) : "\(ancestor.path) is a file, not a folder"
            throw InputError(path, "cannot be created (\(why))")
        }
    }

    /// The operating system's reason behind a Foundation file error ("Permission denied"), else
    /// the error's own description, on one line.
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        switch CocoaError.Code(rawValue: ns.code) {
        case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
        case .fileWriteOutOfSpace: return "no space left"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        case .fileWriteFileExists: return "a file is in the way"
        default: return ns.localizedDescription.split(separator: "\n").first.map(String.init) ?? "\(ns.domain) \(ns.code)"
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        try checkDestination(path)
        let temporary = temporaryPath(for: path)
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            try commit(temporary, to: path)
        } catch let error as InputError {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw InputError(path, "cannot be written (\(reason(error)))")
        }
    }

    /// Renames a finished temporary file onto `path`.
    public static func commit(_ temporary: String, to path: String) throws {
        killPoint()
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw InputError(path, "cannot be written (\(reason))")
        }
        killPoint()
    }

    /// Removes a checkpoint or other file a job is done with (nothing when it is not there).
    public static func remove(_ path: String) {
        killPoint()
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Fault injection for the tests: with `CSD_KILL_AT_FILE_OPERATION=N` in the environment, the
    /// process ends at once, as a kill would (no cleanup, status 137), at the Nth point where a
    /// file operation of a job's outputs begins or ends: before and after each rename into place,
    /// before each removal.
    static func killPoint() {
        guard let target = killTarget else { return }
        killLock.lock()
        operations += 1
        let now = operations
        killLock.unlock()
        if now == target { _exit(137) }
    }

    private static let killTarget: Int? = ProcessInfo.processInfo.environment["CSD_KILL_AT_FILE_OPERATION"].flatMap(Int.init)
    nonisolated(unsafe) private static var operations = 0
    private static let killLock = NSLock()
}
