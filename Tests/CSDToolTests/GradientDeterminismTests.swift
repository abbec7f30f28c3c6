import Foundation
import Testing

/// Gradients do not depend on the number of threads: `csd-bench --run-once gradient-digest`
/// hashes the bits of every gradient of a UNet (its sample, text states and all parameters).
@Suite struct GradientDeterminismTests {
    static let bench = URL(fileURLWithPath: CommandRunner.executable).deletingLastPathComponent().appendingPathComponent("csd-bench").path

    func digest(threads: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.bench)
        process.arguments = ["--cases", "fixture-latent-32-b2", "--run-once", "gradient-digest"]
        process.currentDirectoryURL = URL(fileURLWithPath: CommandRunner.packageRoot)
        process.environment = ProcessInfo.processInfo.environment.merging(["CSD_THREADS": threads]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try #require(object?["digest"] as? String, "csd-bench printed \(String(decoding: data, as: UTF8.self))")
    }

    @Test func unetGradientsAreBitwiseTheSameOnOneTwoAndManyThreads() throws {
        let one = try digest(threads: "1")
        #expect(try digest(threads: "2") == one, "2 threads differ from 1")
        #expect(try digest(threads: "32") == one, "32 threads differ from 1")
    }
}
