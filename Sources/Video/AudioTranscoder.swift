import CFFmpeg
import Core
import Foundation

/// Re-encodes one audio stream that an output container cannot hold as it is (PCM in MP4, AAC in
/// WebM) into the codec that container holds, as `ffmpeg -c:a aac` (or `-c:a libopus`) does:
/// decoded, resampled to the encoder's sample format and rate, and encoded in the encoder's
/// frame size, its time kept from the first decoded sample on.
final class AudioTranscoder {
    /// The stream written, added to the output once the encoder has opened.
    private(set) var output: UnsafeMutablePointer<AVStream>!
    /// What the stream became, for the note that says so ("AAC", "Opus").
    let encoderDisplayName: String
    private let inputTimeBase: AVRational
    private var decoder: UnsafeMutablePointer<AVCodecContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private var resampler: OpaquePointer?
    private var fifo: OpaquePointer?
    private var decoded: UnsafeMutablePointer<AVFrame>?
    private var toEncode: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    /// The next sample's time on the encoder's clock (1 / sample rate), once the first is decoded.
    private var nextSample: Int64?
    private var frameSize: Int32 = 1024

    /// The encoder (FFmpeg's name, and the name people know) a container holds audio in when a
    /// stream must be converted: AAC for MP4 and MOV, Opus for WebM. Matroska holds every codec.
    static func encoder(forContainer container: String) -> (name: String, displayName: String)? {
        switch container {
        case "mp4", "mov": ("aac", "AAC")
        case "webm": ("libopus", "Opus")
        default: nil
        }
    }

    /// Adds a stream to `format` (before its header is written) that will hold `stream`'s audio
    /// re-encoded by `encoderName`; `path` is the input, named in errors.
    init(input stream: UnsafeMutablePointer<AVStream>, into format: UnsafeMutablePointer<AVFormatContext>,
         encoder encoderName: (name: String, displayName: String), path: String) throws {
        encoderDisplayName = encoderName.displayName
        inputTimeBase = stream.pointee.time_base
        // Everything is initialised from here on, so a throw below runs deinit and frees what was
        // made; the output stream is added last, so a stream that cannot be converted adds nothing.
        let parameters = stream.pointee.codecpar!
        let codecName = String(cString: avcodec_get_name(parameters.pointee.codec_id))
        guard let decoderCodec = avcodec_find_decoder(parameters.pointee.codec_id), let decoder = avcodec_alloc_context3(decoderCodec) else {
            throw InputError(path, "no decoder for its \(codecName) audio")
        }
        self.decoder = decoder
        avcodec_parameters_to_context(decoder, parameters)
        decoder.pointee.pkt_timebase = stream.pointee.time_base
        if decoder.pointee.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC {
            let channels = decoder.pointee.ch_layout.nb_channels
            av_channel_layout_uninit(&decoder.pointee.ch_layout)
            av_channel_layout_default(&decoder.pointee.ch_layout, max(1, channels))
        }
        var code = avcodec_open2(decoder, decoderCodec, nil)
        guard code >= 0 else { throw InputError(path, "cannot decode its \(codecName) audio (\(ffmpegMessage(code)))") }
        guard let encoderCodec = avcodec_find_encoder_by_name(encoderName.name), let encoder = avcodec_alloc_context3(encoderCodec) else {
            throw InputError(path, "no \(encoderName.displayName) encoder in this FFmpeg to convert its \(codecName) audio")
        }
        self.encoder = encoder
        let inputRate = decoder.pointee.sample_rate
        encoder.pointee.sample_rate = Self.supportedRate(inputRate, of: encoderCodec)
        av_channel_layout_copy(&encoder.pointee.ch_layout, &decoder.pointee.ch_layout)
        encoder.pointee.sample_fmt = encoderCodec.pointee.sample_fmts?.pointee ?? AV_SAMPLE_FMT_FLTP
        encoder.pointee.bit_rate = Int64(64_000 * min(Int(encoder.pointee.ch_layout.nb_channels), 8))
        encoder.pointee.time_base = AVRational(num: 1, den: encoder.pointee.sample_rate)
        if (format.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0 { encoder.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER) }
        code = avcodec_open2(encoder, encoderCodec, nil)
        guard code >= 0 else {
            throw InputError(path, "cannot convert its \(codecName) audio to \(encoderName.displayName) (\(ffmpegMessage(code)))")
        }
        if encoder.pointee.frame_size > 0 { frameSize = encoder.pointee.frame_size }
        guard let output = avformat_new_stream(format, nil) else { throw InputError(path, "cannot add an audio stream") }
        self.output = output
        avcodec_parameters_from_context(output.pointee.codecpar, encoder)
        output.pointee.time_base = encoder.pointee.time_base
        output.pointee.disposition = stream.pointee.disposition
        av_dict_copy(&output.pointee.metadata, stream.pointee.metadata, 0)
        code = swr_alloc_set_opts2(&resampler, &encoder.pointee.ch_layout, encoder.pointee.sample_fmt, encoder.pointee.sample_rate,
                                   &decoder.pointee.ch_layout, decoder.pointee.sample_fmt, inputRate, 0, nil)
        guard code >= 0, swr_init(resampler) >= 0 else { throw InputError(path, "cannot resample its \(codecName) audio") }
        fifo = av_audio_fifo_alloc(encoder.pointee.sample_fmt, encoder.pointee.ch_layout.nb_channels, frameSize)
        decoded = av_frame_alloc()
        toEncode = av_frame_alloc()
        packet = av_packet_alloc()
        guard fifo != nil, decoded != nil, toEncode != nil, packet != nil else { throw InputError(path, "cannot allocate audio buffers") }
    }

    deinit {
        av_packet_free(&packet)
        av_frame_free(&decoded)
        av_frame_free(&toEncode)
        if let fifo { av_audio_fifo_free(fifo) }
        swr_free(&resampler)
        avcodec_free_context(&decoder)
        avcodec_free_context(&encoder)
    }

    /// The input's rate where the encoder takes it, else 48 kHz where it takes that, else its first.
    static func supportedRate(_ rate: Int32, of codec: UnsafePointer<AVCodec>) -> Int32 {
        guard let list = codec.pointee.supported_samplerates else { return rate }
        var rates = [Int32]()
        var i = 0
        while list[i] != 0 { rates.append(list[i]); i += 1 }
        if rates.contains(rate) { return rate }
        return rates.contains(48_000) ? 48_000 : rates.first ?? rate
    }

    /// Decodes `input` (a packet of the input stream, on its clock) and writes what the encoder
    /// has ready into `format`.
    func write(_ input: UnsafeMutablePointer<AVPacket>, into format: UnsafeMutablePointer<AVFormatContext>, destination: String) throws {
        // A packet the decoder refuses (a damaged one) is skipped, as players do.
        guard avcodec_send_packet(decoder, input) >= 0 else { return }
        try receiveDecoded(into: format, destination: destination)
    }

    /// Flushes the decoder, the resampler and the encoder into `format`.
    func finish(into format: UnsafeMutablePointer<AVFormatContext>, destination: String) throws {
        avcodec_send_packet(decoder, nil)
        try receiveDecoded(into: format, destination: destination)
        try resample(nil)
        try encodeQueued(into: format, destination: destination, final: true)
    }

    private func receiveDecoded(into format: UnsafeMutablePointer<AVFormatContext>, destination: String) throws {
        guard let decoder, let decoded, let encoder else { return }
        while avcodec_receive_frame(decoder, decoded) >= 0 {
            if nextSample == nil {
                let stamp = decoded.pointee.best_effort_timestamp
                nextSample = stamp == csd_av_nopts_value() ? 0 : av_rescale_q(stamp, inputTimeBase, encoder.pointee.time_base)
            }
            try resample(decoded)
            av_frame_unref(decoded)
            try encodeQueued(into: format, destination: destination, final: false)
        }
    }

    /// Converts `frame`'s samples (nil: what the resampler still holds) into the queue.
    private func resample(_ frame: UnsafeMutablePointer<AVFrame>?) throws {
        guard let encoder else { return }
        let count = swr_get_out_samples(resampler, frame?.pointee.nb_samples ?? 0)
        guard count > 0 else { return }
        var buffers: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?
        guard av_samples_alloc_array_and_samples(&buffers, nil, encoder.pointee.ch_layout.nb_channels, count, encoder.pointee.sample_fmt, 0) >= 0,
              let buffers else { throw InputError("audio", "cannot allocate resampling buffers") }
        defer { av_freep(UnsafeMutableRawPointer(buffers)); var b: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>? = buffers; av_freep(&b) }
        let input = frame.map { UnsafeMutableRawPointer($0.pointee.extended_data).assumingMemoryBound(to: UnsafePointer<UInt8>?.self) }
        let converted = swr_convert(resampler, buffers, count, input, frame?.pointee.nb_samples ?? 0)
        guard converted > 0 else { return }
        _ = av_audio_fifo_write(fifo, UnsafeMutableRawPointer(buffers).assumingMemoryBound(to: UnsafeMutableRawPointer?.self), converted)
    }

    /// Encodes whole frames from the queue (and, when `final`, the rest and the encoder's delay).
    private func encodeQueued(into format: UnsafeMutablePointer<AVFormatContext>, destination: String, final: Bool) throws {
        guard let encoder, let toEncode else { return }
        while av_audio_fifo_size(fifo) >= frameSize || (final && av_audio_fifo_size(fifo) > 0) {
            let count = min(av_audio_fifo_size(fifo), frameSize)
            av_frame_unref(toEncode)
            toEncode.pointee.nb_samples = count
            toEncode.pointee.format = encoder.pointee.sample_fmt.rawValue
            toEncode.pointee.sample_rate = encoder.pointee.sample_rate
            av_channel_layout_copy(&toEncode.pointee.ch_layout, &encoder.pointee.ch_layout)
            guard av_frame_get_buffer(toEncode, 0) >= 0 else { throw InputError(destination, "cannot allocate an audio frame") }
            _ = av_audio_fifo_read(fifo, UnsafeMutableRawPointer(toEncode.pointee.extended_data).assumingMemoryBound(to: UnsafeMutableRawPointer?.self), count)
            toEncode.pointee.pts = nextSample ?? 0
            nextSample = (nextSample ?? 0) + Int64(count)
            try encode(toEncode, into: format, destination: destination)
        }
        if final { try encode(nil, into: format, destination: destination) }
    }

    private func encode(_ frame: UnsafeMutablePointer<AVFrame>?, into format: UnsafeMutablePointer<AVFormatContext>, destination: String) throws {
        guard let encoder, let packet else { return }
        var code = avcodec_send_frame(encoder, frame)
        guard code >= 0 else { throw InputError(destination, "cannot encode the converted audio (\(ffmpegMessage(code)))") }
        while true {
            code = avcodec_receive_packet(encoder, packet)
            if code == csd_averror_eagain() || code == csd_averror_eof() { return }
            guard code >= 0 else { throw InputError(destination, "cannot encode the converted audio (\(ffmpegMessage(code)))") }
            av_packet_rescale_ts(packet, encoder.pointee.time_base, output.pointee.time_base)
            packet.pointee.stream_index = output.pointee.index
            code = av_interleaved_write_frame(format, packet)
            guard code >= 0 else { throw InputError(destination, "cannot write the converted audio (\(ffmpegMessage(code)))") }
        }
    }
}
