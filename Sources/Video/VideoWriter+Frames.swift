import Core

extension VideoWriter {
    /// Writes `count` frames of `width`×`height`, frame `k` drawn by `frame(k)`, to `path` as an
    /// MP4, calling `progress` with the frames written.
    public static func write(frames count: Int, width: Int, height: Int, frameRate: Double, to path: String,
                             progress: (Int) -> Void = { _ in }, frame: (Int) throws -> RGBImage) throws {
        let writer = try VideoWriter(path: path, width: width, height: height, frameRate: frameRate)
        for k in 0..<count {
            try writer.append(try frame(k))
            progress(k + 1)
        }
        try writer.finish()
    }
}
