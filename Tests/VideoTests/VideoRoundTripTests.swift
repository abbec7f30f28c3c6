import Core
import Foundation
import Testing
import Video
import World

@Suite struct VideoRoundTripTests {
    func scratch() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-video-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Frames of a camera orbiting a world scene.
    func frames(count: Int, width: Int, height: Int) -> [RGBImage] {
        let scene = WorldScene.random(seed: 12)
        return (0..<count).map { i in
            let r = WorldRenderer(scene: scene).render(camera: .orbit(angle: 0.05 * Float(i)), width: width, height: height)
            return RGBImage(width: width, height: height, pixels: r.bytes)
        }
    }

    func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
        let mse = zip(a.pixels, b.pixels).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) } / Double(a.pixels.count)
        return 10 * log10(255 * 255 / max(mse, 1e-9))
    }

    @Test func writeThenReadKeepsSizeCountTimesAndPictures() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = frames(count: 12, width: 96, height: 64)
        let writer = try VideoWriter(path: "\(dir)/v.mp4", width: 96, height: 64, frameRate: 12)
        for f in input { try writer.append(f) }
        try writer.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["v.mp4"], "no temporary file left")
        let reader = try VideoReader(path: "\(dir)/v.mp4")
        #expect(reader.width == 96 && reader.height == 64 && abs(reader.frameRate - 12) < 0.01)
        let decoded = try reader.readAll()
        #expect(decoded.count == 12)
        for (i, f) in decoded.enumerated() {
            #expect(abs(f.time - Double(i) / 12) < 1e-3, "frame \(i) at \(f.time)")
            #expect(psnr(f.image, input[i]) > 30, "frame \(i) PSNR \(psnr(f.image, input[i]))")
        }
    }

    @Test func rotationMetadataIsHonoured() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = frames(count: 3, width: 64, height: 32)
        let writer = try VideoWriter(path: "\(dir)/r.mp4", width: 64, height: 32, frameRate: 10, rotation: 90)
        for f in input { try writer.append(f) }
        try writer.finish()
        let reader = try VideoReader(path: "\(dir)/r.mp4")
        #expect(reader.rotation == 90)
        #expect(reader.width == 32 && reader.height == 64)
        let first = try #require(try reader.nextFrame())
        #expect(psnr(first.image, input[0].rotated(clockwise: 90)) > 30)
    }

    @Test func oddSizesKeepTheirResolution() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = frames(count: 2, width: 33, height: 21)
        let writer = try VideoWriter(path: "\(dir)/o.mp4", width: 33, height: 21, frameRate: 5)
        for f in input { try writer.append(f) }
        try writer.finish()
        let decoded = try VideoReader(path: "\(dir)/o.mp4").readAll()
        #expect(decoded.count == 2 && decoded[0].image.width == 33 && decoded[0].image.height == 21)
    }

    func expectOneLineError(_ body: () throws -> Void, mentions parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected an error", sourceLocation: sourceLocation)
        } catch let e as InputError {
            #expect(!e.description.contains("\n"), sourceLocation: sourceLocation)
            for p in parts { #expect(e.description.contains(p), "\(e)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("not an InputError: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func brokenInputsAreOneLineErrors() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        expectOneLineError({ _ = try VideoReader(path: "\(dir)/missing.mp4") }, mentions: ["missing.mp4", "no such file"])
        FileManager.default.createFile(atPath: "\(dir)/empty.mp4", contents: Data())
        expectOneLineError({ _ = try VideoReader(path: "\(dir)/empty.mp4") }, mentions: ["empty.mp4", "0 bytes"])
        FileManager.default.createFile(atPath: "\(dir)/text.mp4", contents: Data(String(repeating: "not a video\n", count: 200).utf8))
        expectOneLineError({ _ = try VideoReader(path: "\(dir)/text.mp4") }, mentions: ["text.mp4"])
        // A PNG is an image, not a video stream FFmpeg can iterate as frames of a movie: it decodes as one frame.
        let writer = try VideoWriter(path: "\(dir)/good.mp4", width: 64, height: 64, frameRate: 10)
        for f in frames(count: 10, width: 64, height: 64) { try writer.append(f) }
        try writer.finish()
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/good.mp4"))
        try data.prefix(data.count / 3).write(to: URL(fileURLWithPath: "\(dir)/truncated.mp4"))
        expectOneLineError({ _ = try VideoReader(path: "\(dir)/truncated.mp4").readAll() }, mentions: ["truncated.mp4"])
        expectOneLineError({ _ = try VideoWriter(path: "\(dir)/no/such/folder/x.mp4", width: 64, height: 64, frameRate: 10) },
                           mentions: ["does not exist"])
        expectOneLineError({ _ = try VideoWriter(path: "\(dir)/x.mp4", width: 0, height: 64, frameRate: 10) }, mentions: ["absurd"])
        let unfinished = try VideoWriter(path: "\(dir)/unfinished.mp4", width: 64, height: 64, frameRate: 10)
        try unfinished.append(frames(count: 1, width: 64, height: 64)[0])
        _ = unfinished
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/unfinished.mp4"), "nothing appears before finish()")
    }
}
