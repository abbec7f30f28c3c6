import Core
import Foundation
import Testing
@testable import Video

/// Video with an alpha channel (ProRes 4444, VP9 in WebM) is read with it, written with it, and
/// an edit changes the colour and carries the alpha.
@Suite struct VideoAlphaTests {
    /// A `width`×`height` picture whose colour varies along y and whose opacity runs from clear
    /// (left) to opaque (right), shifted by `frame`.
    static func picture(_ frame: Int, width: Int = 48, height: Int = 32) -> RGBImage {
        var pixels = [UInt8](), alpha = [UInt8]()
        for y in 0..<height {
            for x in 0..<width {
                pixels += [UInt8(40 + 4 * y), UInt8(200 - 3 * y), UInt8(100 + frame * 10)]
                alpha.append(UInt8(min(255, (x + frame) * 255 / (width - 1))))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels, alpha: alpha)
    }

    /// Writes three frames of `picture` with their alpha to `path` with `codec`.
    static func writeClip(_ path: String, codec: VideoCodec, crf: Int = 18) throws {
        let writer = try VideoWriter(path: path, width: 48, height: 32, frameRate: 10, codec: codec, crf: crf, alpha: true)
        for k in 0..<3 { try writer.append(picture(k)) }
        try writer.finish()
    }

    /// The largest and the mean difference between two channels of the same length.
    static func difference(_ a: [UInt8], _ b: [UInt8]) -> (largest: Int, mean: Double) {
        let d = zip(a, b).map { abs(Int($0) - Int($1)) }
        return (d.max() ?? 0, Double(d.reduce(0, +)) / Double(max(1, d.count)))
    }

    @Test(arguments: [("mov", VideoCodec.prores), ("mkv", .prores), ("webm", .vp9)])
    func alphaSurvivesARoundTrip(ext: String, codec: VideoCodec) throws {
        let dir = try scratchFolder("csd-alpha")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/clip.\(ext)"
        try Self.writeClip(path, codec: codec)
        let frames = try VideoReader(path: path).readAll()
        #expect(frames.count == 3)
        for (k, frame) in frames.enumerated() {
            let original = Self.picture(k)
            guard let alpha = frame.image.alpha else { Issue.record("\(ext): frame \(k) came back without alpha"); continue }
            let (largest, mean) = Self.difference(alpha, original.alpha!)
            // ProRes keeps alpha exactly (16 bits, lossless); VP9 codes it as a second lossy picture.
            #expect(codec == .prores ? largest <= 1 : (mean < 2 && largest <= 16), "\(ext) frame \(k): alpha off by \(largest) at most, \(mean) on average")
            #expect(Self.difference(frame.image.pixels, original.pixels).mean < 3, "\(ext) frame \(k): colour")
            if codec == .prores { #expect(frame.deep?.alpha != nil, "ProRes is read at 16 bits, alpha too") }
        }
    }

    @Test func theCodecIsChosenToKeepAlphaAndAWriterThatCannotRefuses() throws {
        #expect(VideoCodec.default(forExtension: "mov", alpha: true) == .prores)
        #expect(VideoCodec.default(forExtension: "MKV", alpha: true) == .prores)
        #expect(VideoCodec.default(forExtension: "webm", alpha: true) == .vp9)
        #expect(VideoCodec.default(forExtension: "mp4", alpha: true) == .h264)
        #expect(VideoCodec.default(forExtension: "mov") == .h264)
        let dir = try scratchFolder("csd-alpha")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: InputError("\(dir)/out.mp4", "H.264 holds no alpha channel; VP9 and ProRes do")) {
            try VideoWriter(path: "\(dir)/out.mp4", width: 16, height: 16, frameRate: 10, alpha: true)
        }
        #expect(throws: InputError.self) { try VideoWriter(path: "\(dir)/out.mp4", width: 16, height: 16, frameRate: 10, codec: .prores) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func anEditChangesTheColourAndCarriesTheAlpha() throws {
        let dir = try scratchFolder("csd-alpha-edit")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = "\(dir)/in.mov"
        try Self.writeClip(input, codec: .prores)
        let source = try VideoReader(path: input).readAll()
        let editor = try VideoEditorTests.editor(steps: 10, window: 3, overlap: 1)
        var warnings = [String]()
        _ = try editor.edit(input: input, writingTo: "\(dir)/out.mov", warn: { warnings.append($0) })
        #expect(warnings.isEmpty, "\(warnings)")
        let edited = try VideoReader(path: "\(dir)/out.mov").readAll()
        // The same frames through the codec unedited: the change the codec alone makes.
        let plain = try VideoWriter(path: "\(dir)/plain.mov", width: 48, height: 32, frameRate: 10, codec: .prores, alpha: true)
        for frame in source { try plain.append(frame.deep!) }
        try plain.finish()
        let roundTrip = try VideoReader(path: "\(dir)/plain.mov").readAll()
        #expect(edited.count == 3)
        for (k, frame) in edited.enumerated() {
            #expect(Self.difference(frame.image.alpha ?? [], source[k].image.alpha ?? [1]).largest <= 1, "frame \(k): the alpha is carried")
            let change = Self.difference(frame.image.pixels, source[k].image.pixels).mean
            let codecAlone = Self.difference(roundTrip[k].image.pixels, source[k].image.pixels).mean
            #expect(change > 3 * codecAlone, "frame \(k): the colour is edited (\(change) against \(codecAlone) from the codec alone)")
        }
        // Into an MP4 (H.264 holds no alpha) the edit goes on without it, and says so.
        _ = try editor.edit(input: input, writingTo: "\(dir)/out.mp4", warn: { warnings.append($0) })
        #expect(warnings.count == 1 && warnings.first?.contains("alpha channel is left out") == true, "\(warnings)")
        #expect(try VideoReader(path: "\(dir)/out.mp4").nextFrame()?.image.alpha == nil)
    }
}
