import CFFmpeg
import Core
import Foundation
import Testing
import Video

/// Every audio and subtitle stream the output container can hold is copied with its language,
/// dispositions and the file's metadata; what it cannot hold is named in a note.
@Suite struct StreamPassthroughTests {
    let tone = Bundle.module.path(forResource: "tone", ofType: "mp4", inDirectory: "Fixtures")!

    /// Runs `body` on `path` opened by libavformat with its stream information read, then closes it.
    func withOpened<T>(_ path: String, _ body: (UnsafeMutablePointer<AVFormatContext>) throws -> T) throws -> T {
        var opened: UnsafeMutablePointer<AVFormatContext>?
        guard avformat_open_input(&opened, path, nil, nil) >= 0, let context = opened else { throw InputError(path, "cannot open") }
        defer { avformat_close_input(&opened) }
        _ = avformat_find_stream_info(context, nil)
        return try body(context)
    }

    struct StreamInfo: Equatable { var type: String, codec: String, language: String?, isDefault: Bool, packets: Int }

    /// The streams of `path` and its global title.
    func streams(of path: String) throws -> (streams: [StreamInfo], title: String?) {
        try withOpened(path) { context in
            var counts = [Int](repeating: 0, count: Int(context.pointee.nb_streams))
            let packet = av_packet_alloc()
            var p = packet
            defer { av_packet_free(&p) }
            while av_read_frame(context, packet) >= 0 { counts[Int(packet!.pointee.stream_index)] += 1; av_packet_unref(packet) }
            let list = (0..<Int(context.pointee.nb_streams)).map { i -> StreamInfo in
                let s = context.pointee.streams[i]!
                let language = av_dict_get(s.pointee.metadata, "language", nil, 0).map { String(cString: $0.pointee.value) }
                return StreamInfo(type: String(cString: av_get_media_type_string(s.pointee.codecpar.pointee.codec_type)),
                                  codec: String(cString: avcodec_get_name(s.pointee.codecpar.pointee.codec_id)), language: language,
                                  isDefault: s.pointee.disposition & AV_DISPOSITION_DEFAULT != 0, packets: counts[i])
            }
            return (list, av_dict_get(context.pointee.metadata, "title", nil, 0).map { String(cString: $0.pointee.value) })
        }
    }

    /// A Matroska file holding `tone`'s video, its AAC audio twice (English, default; French,
    /// not default), a SubRip subtitle and the title "Test clip", all stream-copied.
    func multiStreamInput(at path: String) throws {
        try withOpened(tone) { input in
            var made: UnsafeMutablePointer<AVFormatContext>?
            guard avformat_alloc_output_context2(&made, nil, "matroska", path) >= 0, let output = made else { throw InputError(path, "cannot create") }
            defer { avformat_free_context(output) }
            // Output streams: 0 video, 1 and 2 audio (from the one input audio stream), 3 subtitles.
            var sources = [Int32]()
            for i in 0..<Int(input.pointee.nb_streams) {
                let s = input.pointee.streams[i]!
                let copies = s.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO ? 2 : 1
                for k in 0..<copies {
                    let o = avformat_new_stream(output, nil)!
                    avcodec_parameters_copy(o.pointee.codecpar, s.pointee.codecpar)
                    o.pointee.codecpar.pointee.codec_tag = 0
                    o.pointee.time_base = s.pointee.time_base
                    if s.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO {
                        av_dict_set(&o.pointee.metadata, "language", k == 0 ? "eng" : "fre", 0)
                        o.pointee.disposition = k == 0 ? AV_DISPOSITION_DEFAULT : 0
                    }
                    sources.append(Int32(i))
                }
            }
            let subtitle = avformat_new_stream(output, nil)!
            subtitle.pointee.codecpar.pointee.codec_type = AVMEDIA_TYPE_SUBTITLE
            subtitle.pointee.codecpar.pointee.codec_id = AV_CODEC_ID_SUBRIP
            subtitle.pointee.time_base = AVRational(num: 1, den: 1000)
            av_dict_set(&subtitle.pointee.metadata, "language", "ger", 0)
            av_dict_set(&output.pointee.metadata, "title", "Test clip", 0)
            guard avio_open(&output.pointee.pb, path, AVIO_FLAG_WRITE) >= 0, avformat_write_header(output, nil) >= 0 else { throw InputError(path, "cannot write") }
            var packet = av_packet_alloc()
            defer { av_packet_free(&packet) }
            while av_read_frame(input, packet) >= 0 {
                let from = packet!.pointee.stream_index
                for (o, source) in sources.enumerated() where source == from {
                    let copy = av_packet_clone(packet)!
                    av_packet_rescale_ts(copy, input.pointee.streams[Int(from)]!.pointee.time_base, output.pointee.streams[o]!.pointee.time_base)
                    copy.pointee.stream_index = Int32(o)
                    copy.pointee.pos = -1
                    var c: UnsafeMutablePointer<AVPacket>? = copy
                    _ = av_interleaved_write_frame(output, copy)
                    av_packet_free(&c)
                }
                av_packet_unref(packet)
            }
            let text = Array("Hallo".utf8)
            let sub = av_packet_alloc()!
            var s: UnsafeMutablePointer<AVPacket>? = sub
            _ = av_new_packet(sub, Int32(text.count))
            for (i, b) in text.enumerated() { sub.pointee.data[i] = b }
            (sub.pointee.pts, sub.pointee.dts, sub.pointee.duration) = (100, 100, 500)
            sub.pointee.stream_index = subtitle.pointee.index
            _ = av_interleaved_write_frame(output, sub)
            av_packet_free(&s)
            _ = av_write_trailer(output)
            avio_closep(&output.pointee.pb)
        }
    }

    /// Re-encodes `input`'s pictures into `output`, copying its other streams.
    func rewrite(_ input: String, to output: String) throws -> VideoWriter {
        let reader = try VideoReader(path: input)
        let writer = try VideoWriter(path: output, width: reader.width, height: reader.height, frameRate: reader.frameRate, audioFrom: input)
        for f in try reader.readAll() { try writer.append(f.image, time: f.time) }
        try writer.finish()
        return writer
    }

    @Test func everyAudioAndSubtitleStreamIsCopiedWithItsMetadata() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-streams-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = "\(dir)/in.mkv"
        try multiStreamInput(at: input)
        let source = try streams(of: input)
        #expect(source.streams.map(\.type) == ["video", "audio", "audio", "subtitle"] && source.title == "Test clip", "\(source)")

        // Matroska holds them all.
        let mkv = try rewrite(input, to: "\(dir)/out.mkv")
        #expect(mkv.copiedStreams == 3 && mkv.streamNotes.isEmpty, "\(mkv.streamNotes)")
        let out = try streams(of: "\(dir)/out.mkv")
        #expect(out.streams.map(\.type) == ["video", "audio", "audio", "subtitle"])
        #expect(Array(out.streams.dropFirst()) == Array(source.streams.dropFirst()), "codecs, languages, dispositions and packet counts kept")
        #expect(out.title == "Test clip")

        // MP4 holds the audio, not SubRip: that stream is converted, and a note says so.
        let mp4 = try rewrite(input, to: "\(dir)/out.mp4")
        #expect(mp4.copiedStreams == 3 && mp4.streamNotes.count == 1, "\(mp4.streamNotes)")
        #expect(mp4.streamNotes.first?.contains("subtitle stream #3") == true && mp4.streamNotes.first?.contains("subrip") == true)
        let inMP4 = try streams(of: "\(dir)/out.mp4")
        #expect(inMP4.streams.map(\.type) == ["video", "audio", "audio", "subtitle"])
        #expect(inMP4.streams.dropFirst().map(\.language) == ["eng", "fre", "ger"])
        #expect(inMP4.streams.dropFirst(1).prefix(2).map(\.isDefault) == [true, false])
        #expect(inMP4.title == "Test clip")

        #expect(throws: InputError.self) { try VideoWriter(path: "\(dir)/out.avi", width: 16, height: 16, frameRate: 10) }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out.avi"))
    }

    /// The events of `path`'s first subtitle stream, decoded: start (from the video's first
    /// frame) and duration in milliseconds, and the event's text as FFmpeg's ASS dialogue line.
    func subtitleEvents(of path: String) throws -> (codec: String, events: [(start: Int64, duration: Int64, text: String)]) {
        try withOpened(path) { context in
            guard let index = (0..<Int(context.pointee.nb_streams)).first(where: { context.pointee.streams[$0]!.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_SUBTITLE }) else {
                throw InputError(path, "no subtitle stream")
            }
            let stream = context.pointee.streams[index]!
            let codec = avcodec_find_decoder(stream.pointee.codecpar.pointee.codec_id)!
            var decoder = avcodec_alloc_context3(codec)
            defer { avcodec_free_context(&decoder) }
            avcodec_parameters_to_context(decoder, stream.pointee.codecpar)
            decoder!.pointee.pkt_timebase = stream.pointee.time_base
            guard avcodec_open2(decoder, codec, nil) >= 0 else { throw InputError(path, "cannot decode its subtitles") }
            var events = [(start: Int64, duration: Int64, text: String)]()
            var packet = av_packet_alloc()
            defer { av_packet_free(&packet) }
            let ms = AVRational(num: 1, den: 1000)
            var videoStart: Int64?
            while av_read_frame(context, packet) >= 0 {
                defer { av_packet_unref(packet) }
                let from = context.pointee.streams[Int(packet!.pointee.stream_index)]!
                if from.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO, packet!.pointee.pts != csd_av_nopts_value() {
                    let start = av_rescale_q(packet!.pointee.pts, from.pointee.time_base, ms)
                    videoStart = min(videoStart ?? start, start)
                }
                guard packet!.pointee.stream_index == Int32(index) else { continue }
                var subtitle = AVSubtitle()
                var got: Int32 = 0
                guard avcodec_decode_subtitle2(decoder, &subtitle, &got, packet) >= 0, got != 0 else { continue }
                defer { avsubtitle_free(&subtitle) }
                let text = (0..<Int(subtitle.num_rects)).compactMap { subtitle.rects[$0]?.pointee.ass.map { String(cString: $0) } }.joined()
                events.append((av_rescale_q(packet!.pointee.pts, stream.pointee.time_base, ms),
                               av_rescale_q(packet!.pointee.duration, stream.pointee.time_base, ms), text))
            }
            let offset = videoStart ?? 0
            return (String(cString: avcodec_get_name(stream.pointee.codecpar.pointee.codec_id)), events.map { ($0.start - offset, $0.duration, $0.text) })
        }
    }

    @Test func textSubtitlesAreConvertedToTheFormatTheContainerHolds() throws {
        let dir = try scratchFolder("csd-subtitles")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = "\(dir)/in.mkv"
        try multiStreamInput(at: input)
        let source = try subtitleEvents(of: input)
        #expect(source.codec == "subrip" && source.events.count == 1 && source.events.first?.text.hasSuffix("Hallo") == true, "\(source)")
        let sourceStart = source.events.first?.start ?? -1
        for (ext, codec) in [("mp4", "mov_text"), ("mov", "mov_text"), ("webm", "webvtt"), ("mkv", "subrip")] {
            let writer = try rewrite(input, to: "\(dir)/out.\(ext)")
            let out = try subtitleEvents(of: "\(dir)/out.\(ext)")
            #expect(out.codec == codec, "\(ext)")
            // The event keeps its text, its start against the pictures (to the millisecond) and
            // its duration (500 ms).
            #expect(out.events.count == 1 && out.events.first?.text.hasSuffix("Hallo") == true, "\(ext): \(out.events)")
            #expect(abs((out.events.first?.start ?? 0) - sourceStart) <= 1 && out.events.first?.duration == 500, "\(ext): \(out.events), source \(sourceStart)")
            let notes = writer.streamNotes.filter { $0.contains("subtitle stream") }
            #expect(notes.count == (ext == "mkv" ? 0 : 1) && notes.allSatisfy { $0.contains("converted from subrip") }, "\(ext): \(notes)")
            let language = try streams(of: "\(dir)/out.\(ext)").streams.first { $0.type == "subtitle" }?.language
            #expect(language == "ger", "\(ext)")
        }
    }

    /// A MOV holding `tone`'s video with the SMPTE timecode `timecode` (which the MOV muxer writes
    /// as a `tmcd` track), and its audio.
    func timecodedInput(at path: String, timecode: String) throws {
        try withOpened(tone) { input in
            var made: UnsafeMutablePointer<AVFormatContext>?
            guard avformat_alloc_output_context2(&made, nil, "mov", path) >= 0, let output = made else { throw InputError(path, "cannot create") }
            defer { avformat_free_context(output) }
            for i in 0..<Int(input.pointee.nb_streams) {
                let s = input.pointee.streams[i]!
                let o = avformat_new_stream(output, nil)!
                avcodec_parameters_copy(o.pointee.codecpar, s.pointee.codecpar)
                o.pointee.codecpar.pointee.codec_tag = 0
                o.pointee.time_base = s.pointee.time_base
                o.pointee.avg_frame_rate = s.pointee.avg_frame_rate
                if s.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO { av_dict_set(&o.pointee.metadata, "timecode", timecode, 0) }
            }
            guard avio_open(&output.pointee.pb, path, AVIO_FLAG_WRITE) >= 0, avformat_write_header(output, nil) >= 0 else { throw InputError(path, "cannot write") }
            var packet = av_packet_alloc()
            defer { av_packet_free(&packet) }
            while av_read_frame(input, packet) >= 0 {
                av_packet_rescale_ts(packet, input.pointee.streams[Int(packet!.pointee.stream_index)]!.pointee.time_base,
                                     output.pointee.streams[Int(packet!.pointee.stream_index)]!.pointee.time_base)
                packet!.pointee.pos = -1
                _ = av_interleaved_write_frame(output, packet)
                av_packet_unref(packet)
            }
            _ = av_write_trailer(output)
            avio_closep(&output.pointee.pb)
        }
    }

    /// The timecode `path` carries on any of its streams, and whether one of them is a data
    /// stream (a MOV or MP4 `tmcd` track).
    func timecode(of path: String) throws -> (timecode: String?, hasTrack: Bool) {
        try withOpened(path) { context in
            var found: String?
            var hasTrack = false
            for i in 0..<Int(context.pointee.nb_streams) {
                let s = context.pointee.streams[i]!
                if let entry = av_dict_get(s.pointee.metadata, "timecode", nil, 0) { found = found ?? String(cString: entry.pointee.value) }
                if s.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_DATA { hasTrack = true }
            }
            return (found, hasTrack)
        }
    }

    @Test func theTimecodeIsKept() throws {
        let dir = try scratchFolder("csd-timecode")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = "\(dir)/in.mov"
        try timecodedInput(at: input, timecode: "01:02:03:04")
        let source = try timecode(of: input)
        #expect(source.timecode == "01:02:03:04" && source.hasTrack, "the input holds a tmcd track: \(source)")
        for ext in ["mov", "mp4", "mkv"] {
            let writer = try rewrite(input, to: "\(dir)/out.\(ext)")
            #expect(writer.streamNotes.isEmpty, "the timecode track is carried, not left out: \(writer.streamNotes)")
            let out = try timecode(of: "\(dir)/out.\(ext)")
            #expect(out.timecode == "01:02:03:04", "\(ext)")
            if ext != "mkv" { #expect(out.hasTrack, "\(ext) writes a tmcd track") }
        }
        // Without one, none is made up.
        let plain = try rewrite(tone, to: "\(dir)/plain.mov")
        #expect(plain.streamNotes.isEmpty)
        #expect(try timecode(of: "\(dir)/plain.mov").timecode == nil)
    }
}
