import CFFmpeg
import Core
import Foundation

/// The compressed packets of a file's best audio stream, as stored (nothing decoded): what a
/// stream copy must preserve byte for byte.
public struct AudioTrack: Sendable {
    public var codecName: String
    public var sampleRate: Int
    public var channels: Int
    /// Packet payloads in file order.
    public var packets: [Data]
    /// Presentation time of each packet in seconds.
    public var times: [Double]

    /// The best audio stream of `path`, or nil when it has none.
    public static func read(from path: String) throws -> AudioTrack? {
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        av_log_set_level(AV_LOG_QUIET)
        var code = avformat_open_input(&context, path, nil, nil)
        guard code >= 0, let format = context else { throw InputError(path, "not a media file FFmpeg can read (\(ffmpegMessage(code)))") }
        defer { avformat_close_input(&context) }
        code = avformat_find_stream_info(format, nil)
        guard code >= 0 else { throw InputError(path, "cannot read stream information (\(ffmpegMessage(code)))") }
        let index = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
        guard index >= 0 else { return nil }
        let stream = format.pointee.streams[Int(index)]!
        let parameters = stream.pointee.codecpar.pointee
        let base = stream.pointee.time_base
        var track = AudioTrack(codecName: String(cString: avcodec_get_name(parameters.codec_id)), sampleRate: Int(parameters.sample_rate),
                               channels: Int(parameters.ch_layout.nb_channels), packets: [], times: [])
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let packet else { throw InputError(path, "cannot allocate a packet") }
        while av_read_frame(format, packet) >= 0 {
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == index else { continue }
            track.packets.append(Data(bytes: packet.pointee.data, count: Int(packet.pointee.size)))
            track.times.append(Double(packet.pointee.pts) * Double(base.num) / Double(base.den))
        }
        return track
    }
}
