import Foundation

/// Runs the built `csd` executable and collects what it printed.
struct CommandRunner {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// The package root, from this file's location.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let fixtures = "\(packageRoot)/Tests/CoreTests/Fixtures"

    /// The `csd` product beside the test bundle (swift test builds every product).
    static let executable: String = {
        let candidates = [CommandLine.arguments[0], Bundle.main.bundlePath, Bundle.main.executablePath ?? ""]
            .map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("csd").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    /// Runs `csd arguments` (or another of the built products, `product`), with `environment`
    /// added to this process's environment, in `directory` when given.
    static func run(_ arguments: [String], environment: [String: String] = [:], product: String = "csd",
                    directory: String? = nil) throws -> Result {
        let process = Process()
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.executableURL = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(product)
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    static func scratch() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-cli-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
