import Foundation
import Testing
@testable import Core

/// Working folders of runs: a new one is fresh and the process's own; those a killed run left
/// behind go when the next is made, and a running process's stay.
@Suite struct ScratchFolderTests {
    @Test func aNewFolderRemovesOnlyThoseWhoseProcessIsGone() throws {
        let parent = NSTemporaryDirectory() + "csd-scratch-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        // Beyond Linux's largest PID, so no process has it.
        let abandoned = "\(parent)/csd-eval-video-99999999-0", running = "\(parent)/csd-eval-video-\(getppid())-0"
        let otherPrefix = "\(parent)/csd-eval-video-memory-99999999-0", unrelated = "\(parent)/csd-eval-video-notes"
        for folder in [abandoned, running, otherPrefix, unrelated] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(abandoned)/edited.mp4"))
        let first = try ScratchFolder.create(prefix: "csd-eval-video", in: parent)
        let second = try ScratchFolder.create(prefix: "csd-eval-video", in: parent)
        #expect(first != second)
        #expect(URL(fileURLWithPath: first).lastPathComponent.hasPrefix("csd-eval-video-\(getpid())-"))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: parent))
        #expect(!left.contains("csd-eval-video-99999999-0"))
        #expect(left.isSuperset(of: ["csd-eval-video-\(getppid())-0", "csd-eval-video-notes",
                                     URL(fileURLWithPath: first).lastPathComponent, URL(fileURLWithPath: second).lastPathComponent]))
        // "csd-eval-video-memory-…" is another prefix's: its PID field is not a number here.
        #expect(left.contains("csd-eval-video-memory-99999999-0"))
    }
}
