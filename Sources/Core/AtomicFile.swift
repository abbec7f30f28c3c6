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

    /// Checks that the folder `path` goes into exists, before any work is done.
    public static func checkDestination(_ path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError(path, "the output folder \(folder) does not exist")
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
            throw InputError(path, "cannot be written (\(error.localizedDescription))")
        }
    }

    /// Renames a finished temporary file onto `path`.
    public static func commit(_ temporary: String, to path: String) throws {
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw InputError(path, "cannot be written (\(reason))")
        }
    }
}
