import Foundation
import Testing
@testable import Core

@Suite struct CLIPTokenizerTests {
    struct Case: Decodable { var text: String; var ids: [Int] }

    static let cases: [Case] = {
        let data = FileManager.default.contents(atPath: Fixtures.path("tokenizer-cases.json"))!
        return try! JSONDecoder().decode([Case].self, from: data)
    }()

    @Test func matchesTransformersOnEveryCase() throws {
        let tokenizer = try CLIPTokenizer(folder: Fixtures.path("tiny-sd/tokenizer"))
        #expect(Self.cases.count >= 200)
        var mismatches = [String]()
        for c in Self.cases where tokenizer.encode(c.text) != c.ids {
            mismatches.append("\(c.text.debugDescription): got \(tokenizer.encode(c.text).prefix(12)) want \(c.ids.prefix(12))")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5).joined(separator: " | "))")
    }

    @Test func padsAndTruncatesToModelMaxLength() throws {
        let tokenizer = try CLIPTokenizer(folder: Fixtures.path("tiny-sd/tokenizer"))
        let short = tokenizer.encode("a red ball")
        #expect(short.count == 77 && short.first == tokenizer.startId)
        #expect(short[4] == tokenizer.endId && short.last == tokenizer.padId)
        let long = tokenizer.encode(String(repeating: "ball ", count: 200))
        #expect(long.count == 77 && long.last == tokenizer.endId)
    }

    @Test func missingMergesFileIsOneLineError() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-sd/tokenizer/vocab.json"), toPath: "\(dir)/vocab.json")
        #expect(throws: InputError("\(dir)/merges.txt", "no such file")) { try CLIPTokenizer(folder: dir) }
    }
}
