import Core
import Foundation
import Testing

/// `csd-bench`'s alternation of Swift's and the peer's runs (`--rounds`), with a stand-in peer
/// that reports a fixed time, so that no Python is needed.
@Suite struct BenchCommandTests {
    func runBench(_ arguments: [String]) throws -> CommandRunner.Result {
        try CommandRunner.run(arguments, product: "csd-bench", directory: CommandRunner.packageRoot)
    }

    @Test func roundsAlternateWithThePeerAndReportEachRatio() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("csd-bench-rounds-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let caseFolder = "\(folder)/fixture-pixel-64-b2"
        try FileManager.default.createDirectory(atPath: caseFolder, withIntermediateDirectories: true)
        // The peer's gradient, which the bench compares with its own; this stand-in leaves it in place.
        try SafetensorsFile.write(["grad_sample": Tensor(zeros: [2, 3, 64, 64])], to: "\(caseFolder)/output.safetensors")
        let peer = "\(folder)/peer.sh"
        try "#!/bin/sh\necho '{\"torch_ms\": 1000.0}'\n".write(toFile: peer, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: peer)

        let run = try runBench(["--backward", "--cases", "fixture-pixel-64-b2", "--runs", "1", "--rounds", "3",
                                "--python", peer, "--peer-folder", folder, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let result = try #require((object["cases"] as? [[String: Any]])?.first)
        let rounds = try #require(result["rounds"] as? [[String: Double]])
        #expect(rounds.count == 3)
        #expect(rounds.allSatisfy { $0["torch_ms"] == 1000 && ($0["swift_ms"] ?? 0) > 0 })
        let ratios = rounds.map { $0["ratio"]! }.sorted()
        #expect(result["ratio_vs_torch"] as? Double == ratios[1], "the median of the rounds' ratios")
        #expect(result["torch_ms"] as? Double == 1000)
        #expect(run.stderr.contains("ratios of 3 rounds"))
    }

    @Test func zeroRunsOrRoundsAreRefusedWithAMessage() throws {
        for arguments in [["--runs", "0"], ["--rounds", "0"]] {
            let run = try runBench(["--backward", "--no-torch"] + arguments)
            #expect(run.status != 0)
            #expect(run.stderr.contains(arguments[0]), "\(run.stderr)")
        }
    }
}
