import CFFmpeg
import Core
import Foundation
import Testing
@testable import Video

/// Each codec writes into the containers that hold it and reads back as the pictures given; a
/// container that cannot hold the codec, or a quality out of the codec's range, is refused with
/// nothing written; audio the container cannot hold is converted, and the note says so.
@Suite struct VideoCodecTests {
    let tone = Bundle.module.path(forResource: "tone", ofType: "mp4", inDirectory: "Fixtures")!

    /// A moving diagonal gradient, frame `i` of a clip.
    func picture(_ i: Int, width: Int = 64, height: Int = 48) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let p = (y * width + x) * 3
                (pixels[p], pixels[p + 1], pixels[p + 2]) = (UInt8((x * 4 + i * 8) % 256), UInt8(y * 5 % 256), UInt8((x + y) * 2 % 256))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The video stream's codec name and codec tag (as text) in `path`.
    func videoCodec(of path: String) throws -> (name: String, tag: String) {
        var opened: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_open_input(&opened, path, nil, nil) >= 0, let context = opened else { throw InputError(path, "cannot open") }
        defer { avformat_close_input(&opened) }
        _ = avformat_find_stream_info(context, nil)
        let index = Int(av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0))
        let parameters = context.pointee.streams[index]!.pointee.codecpar!.pointee
        let tag = (0..<4).map { Character(UnicodeScalar(UInt8((parameters.codec_tag >> (8 * $0)) & 0xff))) }
        return (String(cString: avcodec_get_name(parameters.codec_id)), String(tag))
    }

    @Test(arguments: [("mp4", VideoCodec?.none, "h264"), ("mov", .hevc, "hevc"), ("mp4", .hevc, "hevc"), ("mkv", .vp9, "vp9"), ("webm", nil, "vp9")])
    func eachCodecWritesAndReadsBack(ext: String, codec: VideoCodec?, expected: String) throws {
        let dir = try scratchFolder("csd-codec")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/out.\(ext)"
        let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: 12, codec: codec, crf: 10)
        #expect(writer.codec.rawValue == expected)
        for i in 0..<6 { try writer.append(picture(i)) }
        try writer.finish()
        let written = try videoCodec(of: path)
        #expect(written.name == expected)
        if expected == "hevc" && ext != "mkv" { #expect(written.tag == "hvc1", "HEVC in MP4/MOV is tagged for Apple's players") }
        let frames = try VideoReader(path: path).readAll()
        #expect(frames.count == 6)
        for (i, frame) in frames.enumerated() {
            let source = picture(i)
            let error = zip(frame.image.pixels, source.pixels).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(source.pixels.count)
            #expect(error < 6, "frame \(i) of \(expected) in .\(ext): mean error \(error) levels")
        }
    }

    /// x264 writes its settings into the stream as text ("… rc_lookahead=12 …").
    @Test(arguments: [("fast", 12), ("placebo", 12), ("faster", 12), ("veryfast", 10)])
    func x264LooksAheadAtMostAWindow(preset: String, lookahead: Int) throws {
        let dir = try scratchFolder("csd-codec")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/out.mp4"
        let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: 12, preset: preset)
        for i in 0..<6 { try writer.append(picture(i)) }
        try writer.finish()
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        #expect(text.contains(" rc_lookahead=\(lookahead) "))
    }

    @Test func aContainerOrQualityTheCodecCannotTakeIsRefusedWithNothingWritten() throws {
        let dir = try scratchFolder("csd-codec")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, VideoCodec?, Int, String)] = [
            ("webm", .h264, 18, "cannot hold H.264 video; it holds VP9"),
            ("webm", .hevc, 18, "cannot hold HEVC"),
            ("mp4", .h264, 52, "H.264's crf 52 is not between 0 and 51"),
            ("webm", nil, 64, "VP9's crf 64 is not between 0 and 63"),
        ]
        for (ext, codec, crf, message) in cases {
            let path = "\(dir)/out.\(ext)"
            do {
                _ = try VideoWriter(path: path, width: 16, height: 16, frameRate: 10, codec: codec, crf: crf)
                Issue.record("\(ext) \(String(describing: codec)) crf \(crf) was accepted")
            } catch let error as InputError {
                #expect(error.description.contains(message) && error.description.contains(path), "\(error)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        }
        // VP9 takes a crf H.264 does not.
        let vp9 = try VideoWriter(path: "\(dir)/ok.webm", width: 16, height: 16, frameRate: 10, crf: 60)
        try vp9.append(picture(0, width: 16, height: 16))
        try vp9.finish()
    }

    /// A QuickTime file holding 1 s of a 440 Hz tone on `channels` channels as 16-bit PCM at
    /// 44.1 kHz, and nothing else.
    func pcmInput(at path: String, channels: Int = 2) throws {
        var made: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_alloc_output_context2(&made, nil, "mov", path) >= 0, let output = made else { throw InputError(path, "cannot create") }
        defer { avformat_free_context(output) }
        let stream = avformat_new_stream(output, nil)!
        let parameters = stream.pointee.codecpar!
        parameters.pointee.codec_type = AVMEDIA_TYPE_AUDIO
        parameters.pointee.codec_id = AV_CODEC_ID_PCM_S16LE
        parameters.pointee.sample_rate = 44_100
        parameters.pointee.format = AV_SAMPLE_FMT_S16.rawValue
        av_channel_layout_default(&parameters.pointee.ch_layout, Int32(channels))
        parameters.pointee.bits_per_coded_sample = 16
        parameters.pointee.block_align = Int32(2 * channels)
        stream.pointee.time_base = AVRational(num: 1, den: 44_100)
        guard avio_open(&output.pointee.pb, path, AVIO_FLAG_WRITE) >= 0, avformat_write_header(output, nil) >= 0 else { throw InputError(path, "cannot write") }
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        for start in stride(from: 0, to: 44_100, by: 1024) {
            let count = min(1024, 44_100 - start)
            _ = av_new_packet(packet, Int32(count * 2 * channels))
            let samples = UnsafeMutableRawPointer(packet!.pointee.data!).assumingMemoryBound(to: Int16.self)
            for i in 0..<count {
                let value = Int16(8000 * sin(2 * Double.pi * 440 * Double(start + i) / 44_100))
                for c in 0..<channels { samples[channels * i + c] = value }
            }
            (packet!.pointee.pts, packet!.pointee.dts, packet!.pointee.duration) = (Int64(start), Int64(start), Int64(count))
            packet!.pointee.stream_index = 0
            _ = av_interleaved_write_frame(output, packet)
        }
        _ = av_write_trailer(output)
        avio_closep(&output.pointee.pb)
    }

    /// The best audio stream of `path`: its codec, and its first channel decoded to floats at its own rate.
    func decodedAudio(of path: String) throws -> (codec: String, rate: Int, samples: [Float]) {
        var opened: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_open_input(&opened, path, nil, nil) >= 0, let context = opened else { throw InputError(path, "cannot open") }
        defer { avformat_close_input(&opened) }
        _ = avformat_find_stream_info(context, nil)
        let index = av_find_best_stream(context, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
        guard index >= 0 else { throw InputError(path, "no audio") }
        let parameters = context.pointee.streams[Int(index)]!.pointee.codecpar!
        var decoder = avcodec_alloc_context3(avcodec_find_decoder(parameters.pointee.codec_id))
        defer { avcodec_free_context(&decoder) }
        avcodec_parameters_to_context(decoder, parameters)
        decoder!.pointee.pkt_timebase = context.pointee.streams[Int(index)]!.pointee.time_base
        guard avcodec_open2(decoder, nil, nil) >= 0 else { throw InputError(path, "cannot decode") }
        var samples = [Float]()
        var packet = av_packet_alloc(), frame = av_frame_alloc()
        defer { av_packet_free(&packet); av_frame_free(&frame) }
        func receive() {
            while avcodec_receive_frame(decoder, frame) >= 0 {
                let f = frame!.pointee
                let channels = Int(f.ch_layout.nb_channels)
                let format = AVSampleFormat(f.format)
                let planar = av_sample_fmt_is_planar(format) != 0
                for i in 0..<Int(f.nb_samples) {
                    let at = planar ? i : i * channels
                    let data = f.extended_data[0]!
                    switch av_get_packed_sample_fmt(format) {
                    case AV_SAMPLE_FMT_S16: samples.append(Float(UnsafeRawPointer(data).assumingMemoryBound(to: Int16.self)[at]) / 32768)
                    case AV_SAMPLE_FMT_FLT: samples.append(UnsafeRawPointer(data).assumingMemoryBound(to: Float.self)[at])
                    default: break
                    }
                }
                av_frame_unref(frame)
            }
        }
        while av_read_frame(context, packet) >= 0 {
            if packet!.pointee.stream_index == index { avcodec_send_packet(decoder, packet); receive() }
            av_packet_unref(packet)
        }
        avcodec_send_packet(decoder, nil)
        receive()
        return (String(cString: avcodec_get_name(parameters.pointee.codec_id)), Int(parameters.pointee.sample_rate), samples)
    }

    /// The amplitude of `frequency` in `samples` (a single-bin DFT over their middle half).
    func amplitude(of frequency: Double, in samples: [Float], rate: Int) -> Double {
        let middle = samples[(samples.count / 4)..<(3 * samples.count / 4)]
        var (re, im) = (0.0, 0.0)
        for (n, s) in middle.enumerated() {
            let phase = 2 * Double.pi * frequency * Double(n) / Double(rate)
            (re, im) = (re + Double(s) * cos(phase), im + Double(s) * sin(phase))
        }
        return 2 * (re * re + im * im).squareRoot() / Double(middle.count)
    }

    /// Re-encodes `frames` pictures into `output`, taking the streams of `audio`.
    func write(_ output: String, audioFrom audio: String, frames: Int = 12) throws -> VideoWriter {
        let writer = try VideoWriter(path: output, width: 64, height: 48, frameRate: 12, audioFrom: audio)
        for i in 0..<frames { try writer.append(picture(i)) }
        try writer.finish()
        return writer
    }

    @Test func audioTheContainerCannotHoldIsConvertedAndSaysSo() throws {
        let dir = try scratchFolder("csd-codec")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pcm = "\(dir)/pcm.mov"
        try pcmInput(at: pcm)
        let source = try decodedAudio(of: pcm)
        #expect(source.codec == "pcm_s16le" && source.samples.count == 44_100)

        // MOV holds PCM: copied.
        let mov = try write("\(dir)/out.mov", audioFrom: pcm)
        #expect(mov.copiedStreams == 1 && mov.streamNotes.isEmpty, "\(mov.streamNotes)")
        #expect(try decodedAudio(of: "\(dir)/out.mov").samples == source.samples)

        // MP4 does not: AAC, the same tone and length, and a note.
        let mp4 = try write("\(dir)/out.mp4", audioFrom: pcm)
        #expect(mp4.copiesAudio && mp4.streamNotes.count == 1, "\(mp4.streamNotes)")
        #expect(mp4.streamNotes.first?.contains("converted from pcm_s16le to AAC") == true, "\(mp4.streamNotes)")
        let aac = try decodedAudio(of: "\(dir)/out.mp4")
        #expect(aac.codec == "aac" && aac.rate == 44_100)
        #expect(abs(aac.samples.count - 44_100) <= 2048, "\(aac.samples.count) samples")
        let level = amplitude(of: 440, in: aac.samples, rate: aac.rate), stray = amplitude(of: 1000, in: aac.samples, rate: aac.rate)
        #expect(abs(level - 8000.0 / 32768) < 0.02 && stray < 0.01, "440 Hz at \(level), 1 kHz at \(stray)")

        // WebM holds neither AAC nor PCM: Opus, at 48 kHz.
        let webm = try write("\(dir)/out.webm", audioFrom: tone)
        #expect(webm.streamNotes.first?.contains("converted from aac to Opus") == true, "\(webm.streamNotes)")
        let opus = try decodedAudio(of: "\(dir)/out.webm")
        let original = try decodedAudio(of: tone)
        #expect(opus.codec == "opus" && opus.rate == 48_000)
        #expect(abs(Double(opus.samples.count) / 48_000 - Double(original.samples.count) / Double(original.rate)) < 0.05)
        let converted = amplitude(of: 440, in: opus.samples, rate: 48_000)
        let ratio = converted / amplitude(of: 440, in: original.samples, rate: original.rate)
        #expect(abs(ratio - 1) < 0.1, "the tone's level kept: \(ratio)")
    }

    /// Audio that can be neither stored nor converted (AAC takes at most 8 channels) is left out
    /// with a note saying why; the video is written.
    @Test func audioThatCannotBeConvertedIsLeftOutWithANote() throws {
        let dir = try scratchFolder("csd-codec")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try pcmInput(at: "\(dir)/many.mov", channels: 12)
        let mp4 = try write("\(dir)/out.mp4", audioFrom: "\(dir)/many.mov")
        #expect(!mp4.copiesAudio && mp4.copiedStreams == 0 && mp4.streamNotes.count == 1, "\(mp4.streamNotes)")
        #expect(mp4.streamNotes.first?.contains("left out") == true && mp4.streamNotes.first?.contains("nor converted") == true, "\(mp4.streamNotes)")
        #expect(try VideoReader(path: "\(dir)/out.mp4").readAll().count == 12)
    }
}
