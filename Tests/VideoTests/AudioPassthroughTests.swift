import Core
import Foundation
import Testing
import Video

/// `VideoWriter(audioFrom:)` copies the source's audio stream packet for packet.
@Suite struct AudioPassthroughTests {
    /// 1 s of a 64x48 test pattern at 12 fps with a 440 Hz AAC tone (made with the ffmpeg CLI).
    let tone = Bundle.module.path(forResource: "tone", ofType: "mp4", inDirectory: "Fixtures")!

    func scratch() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-audio-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func audioIsCopiedByteForByteBesideTheReencodedVideo() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try #require(try AudioTrack.read(from: tone))
        #expect(source.codecName == "aac" && source.packets.count > 5)
        let reader = try VideoReader(path: tone)
        let frames = try reader.readAll()
        let writer = try VideoWriter(path: "\(dir)/out.mp4", width: reader.width, height: reader.height, frameRate: reader.frameRate, audioFrom: tone)
        #expect(writer.copiesAudio && writer.streamNotes.isEmpty)
        for f in frames {
            var picture = f.image
            for i in picture.pixels.indices { picture.pixels[i] = 255 - picture.pixels[i] }  // an "edit"
            try writer.append(picture, time: f.time)
        }
        try writer.finish()
        let copied = try #require(try AudioTrack.read(from: "\(dir)/out.mp4"))
        #expect(copied.codecName == source.codecName && copied.sampleRate == source.sampleRate && copied.channels == source.channels)
        #expect(copied.packets == source.packets, "the audio packets are copied untouched")
        #expect(zip(copied.times, source.times).allSatisfy { abs($0 - $1) < 1e-3 }, "and keep their timestamps")
        let decoded = try VideoReader(path: "\(dir)/out.mp4").readAll()
        #expect(decoded.count == frames.count)
        #expect(zip(decoded, frames).allSatisfy { abs($0.time - $1.time) < 1e-3 })
    }

    @Test func aFileWithoutAudioGivesAVideoWithoutAudio() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try VideoWriter(path: "\(dir)/silent.mp4", width: 16, height: 16, frameRate: 10)
        try first.append(RGBImage(width: 16, height: 16, pixels: [UInt8](repeating: 90, count: 16 * 16 * 3)))
        try first.finish()
        let second = try VideoWriter(path: "\(dir)/copy.mp4", width: 16, height: 16, frameRate: 10, audioFrom: "\(dir)/silent.mp4")
        #expect(!second.copiesAudio && second.streamNotes.isEmpty)
        try second.append(RGBImage(width: 16, height: 16, pixels: [UInt8](repeating: 30, count: 16 * 16 * 3)))
        try second.finish()
        #expect(try AudioTrack.read(from: "\(dir)/copy.mp4") == nil)
    }
}
