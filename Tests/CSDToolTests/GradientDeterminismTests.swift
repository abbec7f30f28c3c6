import Foundation
import Testing

/// Gradients do not depend on the number of threads: `csd-bench --run-once gradient-digest`
/// hashes the bits of every gradient of a UNet (its sample, text states and all parameters).
@Suite struct GradientDeterminismTests {
    func digest(threads: String) throws -> String {
        let run = try CommandRunner.run(["--cases", "fixture-latent-32-b2", "--run-once", "gradient-digest"],
                                        environment: ["CSD_THREADS": threads], product: "csd-bench", directory: CommandRunner.packageRoot)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        return try #require(object?["digest"] as? String, "csd-bench printed \(run.stdout) \(run.stderr)")
    }

    @Test func unetGradientsAreBitwiseTheSameOnOneTwoAndManyThreads() throws {
        let one = try digest(threads: "1")
        #expect(try digest(threads: "2") == one, "2 threads differ from 1")
        #expect(try digest(threads: "32") == one, "32 threads differ from 1")
    }
}
