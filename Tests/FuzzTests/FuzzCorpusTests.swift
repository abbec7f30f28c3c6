import Foundation
import Testing
import Core
@testable import CSDFuzz

/// A short smoke run of every fuzz target: the committed corpora (Fuzz/corpus) and deterministic
/// mutations of them. A trap anywhere ends the test run. The long runs are scripts/fuzz.sh.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus").path

    static func seeds(_ target: String) -> [Data] {
        let folder = "\(corpus)/\(target)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            .compactMap { FileManager.default.contents(atPath: "\(folder)/\($0)") }
    }

    /// libFuzzer-like mutations, seeded: byte flips, inserted and erased runs, truncation,
    /// interesting integers and digits (JSON numbers), and crossovers of two seeds.
    static func mutate(_ input: Data, other: Data, rng: inout SplitMix64) -> Data {
        var bytes = [UInt8](input)
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            let position = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count))
            switch rng.next() % 7 {
            case 0 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << (rng.next() % 8))
            case 1: bytes.insert(contentsOf: (0..<(1 + rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: position)
            case 2 where !bytes.isEmpty: bytes.removeSubrange(position..<min(bytes.count, position + 1 + Int(rng.next() % 16)))
            case 3: bytes = Array(bytes.prefix(position))
            case 4 where !bytes.isEmpty:
                let interesting: [UInt8] = [0, 0xff, 0x7f, 0x80, UInt8(ascii: "-"), UInt8(ascii: "9"), UInt8(ascii: "e"), UInt8(ascii: "0")]
                bytes[position] = interesting[Int(rng.next() % UInt64(interesting.count))]
            case 5:
                let digits = Array(String(["-1", "0", "2147483648", "1e300", "-0.0", "4294967296", "9223372036854775807", "NaN"][Int(rng.next() % 8)]).utf8)
                bytes.insert(contentsOf: digits, at: position)
            default:
                let cut = other.isEmpty ? 0 : Int(rng.next() % UInt64(other.count))
                bytes = Array(bytes.prefix(position)) + other.suffix(from: other.startIndex + cut)
            }
        }
        return Data(bytes)
    }

    @Test(arguments: FuzzTargets.names)
    func everySeedAndAThousandMutationsRunWithoutATrap(target: String) throws {
        let seeds = Self.seeds(target)
        #expect(!seeds.isEmpty, "Fuzz/corpus/\(target) holds seeds")
        for seed in seeds { FuzzTargets.run(target, seed) }
        var rng = SplitMix64(seed: 0x5eed ^ UInt64(target.utf8.count))
        let mutations = target == "video" ? 200 : 1000
        for i in 0..<mutations {
            let seed = seeds[i % seeds.count], other = seeds[Int(rng.next() % UInt64(seeds.count))]
            FuzzTargets.run(target, Self.mutate(seed, other: other, rng: &rng))
        }
    }

    /// The png target mends chunk checksums so that mutations reach the reader: PNG's CRC-32
    /// (IEND's is the well-known AE 42 60 82), a valid file keeps every byte, and a file whose
    /// IHDR checksum was damaged, which libpng refuses, reads again once mended.
    @Test func thePNGTargetMendsChunkChecksumsAndLeavesValidFilesAlone() throws {
        #expect(FuzzTargets.crc32(Array("IEND".utf8)[...]) == 0xAE42_6082)
        let pngs = ["rgb-2x2.png", "gray16-2x2.png", "rgba-3x1.png"].compactMap { FileManager.default.contents(atPath: "\(Self.corpus)/png/\($0)") }
        #expect(pngs.count == 3)
        for png in pngs { #expect(FuzzTargets.withChunkChecksumsRepaired(png) == png) }
        let path = NSTemporaryDirectory() + "/csd-fuzz-crc-\(getpid()).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path, contents: pngs[0])
        let original = try RGBImage(pngPath: path)
        var damaged = [UInt8](pngs[0])
        damaged[8 + 8 + 13] ^= 0xFF   // the first byte of IHDR's CRC
        FileManager.default.createFile(atPath: path, contents: Data(damaged))
        #expect(throws: (any Error).self) { try RGBImage(pngPath: path) }
        FileManager.default.createFile(atPath: path, contents: FuzzTargets.withChunkChecksumsRepaired(Data(damaged)))
        let mended = try RGBImage(pngPath: path)
        #expect(mended.pixels == original.pixels && mended.width == original.width)
    }
}

/// SplitMix64: mutations that are the same on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
