import Core

extension RGBImage {
    /// Reads a still image, by its content rather than its name: a PNG (its 8-byte signature)
    /// through libpng, anything else (JPEG, WebP, a video's first frame) through FFmpeg.
    public init(contentsOf path: String) throws {
        if Self.hasPNGSignature(path) { self = try RGBImage(pngPath: path); return }
        let reader = try VideoReader(path: path)
        guard let frame = try reader.nextFrame() else { throw InputError(path, "holds no picture") }
        self = frame.image
    }
}
