import CFFmpeg
import CSD
import Core
import Foundation
import Testing
@testable import Video

/// Video with more than 8 bits a sample is read at 16 bits, edited on all of them and written in
/// 10: shades between two 8-bit levels survive the round trip and the edit.
@Suite struct HighBitDepthTests {
    /// A slow gradient whose every sample lies halfway between two 8-bit levels, moving with `i`.
    func picture(_ i: Int, width: Int = 64, height: Int = 48) -> RGB16Image {
        var samples = [UInt16](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let level = [(x + i) % 200 + 20, y * 3 + 30, (x + y) % 150 + 50]
                for c in 0..<3 { samples[(y * width + x) * 3 + c] = UInt16(level[c] * 257 + 128) }
            }
        }
        return RGB16Image(width: width, height: height, samples: samples)
    }

    /// Mean absolute difference in 16-bit units.
    func error(_ a: [UInt16], _ b: [UInt16]) -> Double {
        zip(a, b).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(a.count)
    }

    /// The pixel format of `path`'s video stream.
    func pixelFormat(of path: String) throws -> String {
        var opened: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_open_input(&opened, path, nil, nil) >= 0, let context = opened else { throw InputError(path, "cannot open") }
        defer { avformat_close_input(&opened) }
        _ = avformat_find_stream_info(context, nil)
        let index = Int(av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0))
        return String(cString: av_get_pix_fmt_name(AVPixelFormat(context.pointee.streams[index]!.pointee.codecpar.pointee.format)))
    }

    /// A 10-bit H.264 clip of `frames` gradient pictures.
    func tenBitClip(at path: String, frames: Int) throws {
        let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: 12, crf: 2, bitDepth: 10)
        for i in 0..<frames { try writer.append(picture(i), time: Double(i) / 12) }
        try writer.finish()
    }

    /// Writes 4 gradient pictures at `bitDepth` and reads them back.
    func roundTrip(_ codec: VideoCodec, bitDepth: Int, in dir: String) throws -> (reader: VideoReader, frames: [VideoFrame], pixelFormat: String) {
        let path = "\(dir)/\(bitDepth).mkv"
        let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: 12, codec: codec, crf: 2, bitDepth: bitDepth)
        for i in 0..<4 { try writer.append(picture(i)) }
        try writer.finish()
        let reader = try VideoReader(path: path)
        return (reader, try reader.readAll(), try pixelFormat(of: path))
    }

    /// (ProRes, always 10 bits, has no 8-bit form to compare with.)
    @Test(arguments: VideoCodec.allCases.filter { $0 != .prores })
    func tenBitsSurviveTheRoundTrip(codec: VideoCodec) throws {
        let dir = try scratchFolder("csd-deep")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (reader, frames, format) = try roundTrip(codec, bitDepth: 10, in: dir)
        let (plainReader, plainFrames, plainFormat) = try roundTrip(codec, bitDepth: 8, in: dir)
        #expect(format == "yuv420p10le" && plainFormat == "yuv420p")
        #expect(reader.bitDepth == 10 && plainReader.bitDepth == 8)
        #expect(frames.count == 4 && plainFrames.count == 4)
        for (i, (frame, plain)) in zip(frames, plainFrames).enumerated() {
            let deep = try #require(frame.deep)
            #expect(plain.deep == nil && frame.image == deep.eightBit)
            let source = picture(i).samples
            // The same pictures through the same codec at 8 bits: every shade lies half a level
            // (128) from the nearest 8-bit one, which 10 bits come closer to.
            let (tenBitError, eightBitError) = (error(deep.samples, source), error(plain.image.pixels.map { UInt16($0) * 257 }, source))
            #expect(tenBitError < 0.5 * eightBitError, "\(codec) frame \(i): \(tenBitError) at 10 bits, \(eightBitError) at 8, in 16-bit units")
        }
    }

    @Test func eightBitVideoStaysEightBit() throws {
        let dir = try scratchFolder("csd-deep")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try VideoWriter(path: "\(dir)/plain.mp4", width: 64, height: 48, frameRate: 12)
        try writer.append(picture(0).eightBit)
        try writer.finish()
        let reader = try VideoReader(path: "\(dir)/plain.mp4")
        let first = try reader.nextFrame()
        #expect(reader.bitDepth == 8 && first != nil && first?.deep == nil)
        #expect(try pixelFormat(of: "\(dir)/plain.mp4") == "yuv420p")
        #expect(throws: InputError.self) { try VideoWriter(path: "\(dir)/twelve.mp4", width: 64, height: 48, frameRate: 12, bitDepth: 12) }
    }

    @Test func aTenBitVideoIsEditedInTenBits() throws {
        let dir = try scratchFolder("csd-deep")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tenBitClip(at: "\(dir)/in.mp4", frames: 6)
        let editor = try VideoEditorTests.editor(steps: 2, window: 6, overlap: 0)
        let (outcome, _) = try editor.edit(input: "\(dir)/in.mp4", writingTo: "\(dir)/out.mp4")
        #expect(outcome == .finished)
        #expect(try pixelFormat(of: "\(dir)/out.mp4") == "yuv420p10le")
        let edited = try VideoReader(path: "\(dir)/out.mp4").readAll()
        #expect(edited.count == 6)
        // The edit moves colours by whole levels; what it adds to each shade is smooth, so the
        // output still holds shades no 8-bit level gives (the 8-bit share of samples is small).
        let deep = try #require(edited[0].deep)
        let offLevel = deep.samples.filter { let v = Int($0); return abs(v - (v + 128) / 257 * 257) > 40 }.count
        #expect(Double(offLevel) / Double(deep.samples.count) > 0.5, "\(offLevel) of \(deep.samples.count) samples between 8-bit levels")
    }
}
