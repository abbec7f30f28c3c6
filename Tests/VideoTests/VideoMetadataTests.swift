import CFFmpeg
import CSD
import Core
import Foundation
import Testing
@testable import Video

/// The shape of the pixels, the colour tags and the start time go from input to output.
@Suite struct VideoMetadataTests {
    func scratch() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-metadata-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A flat colour.
    func flat(_ rgb: [UInt8], width: Int = 32, height: Int = 32) -> RGBImage {
        RGBImage(width: width, height: height, pixels: (0..<(width * height)).flatMap { _ in rgb })
    }

    /// The luma of the middle pixel of the first frame of `path`, as stored (decoded by FFmpeg
    /// directly, with no conversion).
    func storedLuma(_ path: String) throws -> Int {
        var opened: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_open_input(&opened, path, nil, nil) >= 0, let context = opened else { throw InputError(path, "cannot open") }
        defer { avformat_close_input(&opened) }
        _ = avformat_find_stream_info(context, nil)
        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        var codec = avcodec_alloc_context3(decoder)
        defer { avcodec_free_context(&codec) }
        avcodec_parameters_to_context(codec, context.pointee.streams[Int(index)]!.pointee.codecpar)
        _ = avcodec_open2(codec, decoder, nil)
        var packet = av_packet_alloc(), frame = av_frame_alloc()
        defer { av_packet_free(&packet); av_frame_free(&frame) }
        while av_read_frame(context, packet) >= 0 {
            defer { av_packet_unref(packet) }
            guard packet!.pointee.stream_index == index else { continue }
            _ = avcodec_send_packet(codec, packet)
            if avcodec_receive_frame(codec, frame) >= 0 { break }
        }
        if frame!.pointee.width == 0 {
            _ = avcodec_send_packet(codec, nil)
            _ = avcodec_receive_frame(codec, frame)
        }
        let f = frame!.pointee
        let (w, h) = (Int(f.width), Int(f.height))
        return Int(f.data.0![(h / 2) * Int(f.linesize.0) + w / 2])
    }

    /// BT.709 tags are written, and the pictures are converted with BT.709's coefficients both
    /// ways: pure green is stored at luma 16 + 219·0.7152 ≈ 173 (BT.601's would be 145) and
    /// comes back green. Untagged small pictures keep BT.601, as players guess.
    @Test func bt709IsTaggedAndConvertedWithItsOwnCoefficients() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, colour, luma) in [("hd", VideoColour.bt709, 173), ("sd", VideoColour.unspecified, 145)] {
            let path = "\(dir)/\(name).mp4"
            let writer = try VideoWriter(path: path, width: 32, height: 32, frameRate: 10, colour: colour)
            for _ in 0..<3 { try writer.append(flat([0, 255, 0])) }
            try writer.finish()
            #expect(abs(try storedLuma(path) - luma) <= 2, "\(name)")
            let reader = try VideoReader(path: path)
            #expect(reader.colour.matrix == (name == "hd" ? 1 : 6) && reader.colour.range == 1, "\(reader.colour.description)")
            if name == "hd" { #expect(reader.colour == .bt709) }
            let back = try #require(try reader.nextFrame()).image
            let middle = (16 * 32 + 16) * 3
            #expect(abs(Int(back.pixels[middle]) - 0) <= 4 && abs(Int(back.pixels[middle + 1]) - 255) <= 4 && abs(Int(back.pixels[middle + 2]) - 0) <= 4,
                    "\(name): \(back.pixels[middle..<middle + 3])")
        }
    }

    /// An anamorphic picture keeps its pixel shape, and a clip whose content starts late (as
    /// MPEG-TS ones do) comes out of an edit starting at 0 with its colour tags.
    @Test func anEditKeepsThePixelShapeTheTagsAndStartsAtZero() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = "\(dir)/in.mp4", output = "\(dir)/out.mp4"
        let writer = try VideoWriter(path: input, width: 32, height: 24, frameRate: 10, sampleAspectRatio: (16, 15), colour: .bt709)
        for i in 0..<4 { try writer.append(flat([200, 40, 40], width: 32, height: 24), time: 1.5 + Double(i) / 10) }
        try writer.finish()
        let source = try VideoReader(path: input)
        #expect(source.sampleAspectRatio == (16, 15))
        #expect(abs(source.startTime - 1.5) < 0.01, "the input starts late: \(source.startTime)")

        var c = VideoEditor.Configuration(sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
        (c.settings.steps, c.workingSize, c.window, c.overlap) = (1, 16, 4, 0)
        _ = try VideoEditor(model: try DiffusionModel(path: VideoEditorTests.prior), configuration: c).edit(input: input, writingTo: output)
        let edited = try VideoReader(path: output)
        #expect(edited.sampleAspectRatio == (16, 15) && edited.colour == .bt709)
        #expect(abs(edited.startTime) < 0.01)
        let frames = try edited.readAll()
        #expect(frames.count == 4 && abs(frames[0].time) < 0.01 && abs(frames[3].time - 0.3) < 0.01, "\(frames.map(\.time))")
    }

    /// `crf` and `preset` reach x264: a lower crf writes a larger file, another preset other bytes.
    @Test func theEncodersQualityAndPresetTakeEffect() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = RandomGenerator(seed: 3)
        let frames = (0..<4).map { _ in RGBImage(width: 64, height: 48, pixels: (0..<(64 * 48 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) }
        var sizes = [String: Int]()
        for (name, crf, preset) in [("fine", 10, "fast"), ("coarse", 40, "fast"), ("slow", 10, "veryslow")] {
            let writer = try VideoWriter(path: "\(dir)/\(name).mp4", width: 64, height: 48, frameRate: 10, crf: crf, preset: preset)
            for f in frames { try writer.append(f) }
            try writer.finish()
            sizes[name] = try FileManager.default.attributesOfItem(atPath: "\(dir)/\(name).mp4")[.size] as? Int
        }
        #expect(sizes["fine"]! > 2 * sizes["coarse"]!, "\(sizes)")
        #expect(FileManager.default.contents(atPath: "\(dir)/fine.mp4") != FileManager.default.contents(atPath: "\(dir)/slow.mp4"))
        #expect(throws: InputError.self) { try VideoWriter(path: "\(dir)/bad.mp4", width: 64, height: 48, frameRate: 10, crf: 60) }
        #expect(throws: InputError.self) { try VideoWriter(path: "\(dir)/bad.mp4", width: 64, height: 48, frameRate: 10, preset: "warp") }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/bad.mp4"))
    }

    /// A JPEG whose EXIF orientation says 6 (turn 90° clockwise to show) is read as shown: the
    /// fixture's 96×72 comes back 72×96, its top-left pixel where the turn puts it; the mirrored
    /// orientations are mirrored too.
    @Test func aJPEGsEXIFOrientationIsHonoured() throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CSDToolTests/Fixtures/red-ball.jpg").path
        let plain = try RGBImage(contentsOf: fixture)
        #expect(plain.width == 96 && plain.height == 72)
        // EXIF: 2 mirrored; 4 mirrored and turned 180°; 5 mirrored and turned 270° clockwise
        // (a transpose); 7 mirrored and turned 90° (a transverse).
        for (orientation, mirrored, degrees) in [(3, false, 180), (6, false, 90), (8, false, 270), (2, true, 0), (4, true, 180), (5, true, 270), (7, true, 90)] {
            // APP1 "Exif": a big-endian TIFF header and one IFD entry, Orientation (0x0112), SHORT, 1.
            var tiff: [UInt8] = [0x4D, 0x4D, 0, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, UInt8(orientation), 0, 0, 0, 0, 0, 0]
            tiff = Array("Exif".utf8) + [0, 0] + tiff
            let length = tiff.count + 2
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture)))
            let marked = Array(bytes[0..<2]) + [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + tiff + Array(bytes[2...])
            let path = "\(dir)/turned-\(orientation).jpg"
            try Data(marked).write(to: URL(fileURLWithPath: path))
            let shown = try RGBImage(contentsOf: path)
            #expect(shown == (mirrored ? plain.mirrored() : plain).rotated(clockwise: degrees), "orientation \(orientation)")
        }
    }
}
