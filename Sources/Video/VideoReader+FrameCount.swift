import CFFmpeg
import Core

extension VideoReader {
    /// The packets of the best video stream of `path`, counted by reading the container without
    /// decoding: the frame count of every codec that stores one frame per packet, which is all
    /// of them in the containers people edit. Plans what a streamed edit cannot know until its
    /// last frame (the progress total, the contact sheet's frames).
    public static func countPackets(path: String) throws -> Int {
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        var code = avformat_open_input(&context, path, nil, nil)
        guard code >= 0, let format = context else { throw InputError(path, "not a video FFmpeg can read (\(ffmpegMessage(code)))") }
        defer { avformat_close_input(&context) }
        code = avformat_find_stream_info(format, nil)
        guard code >= 0 else { throw InputError(path, "cannot read stream information (\(ffmpegMessage(code)))") }
        let index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0 else { throw InputError(path, "has no video stream") }
        var allocated: UnsafeMutablePointer<AVPacket>? = av_packet_alloc()
        defer { av_packet_free(&allocated) }
        guard let packet = allocated else { throw InputError(path, "cannot allocate a packet") }
        var count = 0
        while av_read_frame(format, packet) >= 0 {
            if packet.pointee.stream_index == index { count += 1 }
            av_packet_unref(packet)
        }
        return count
    }
}
