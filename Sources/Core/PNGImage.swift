import CPNG
import Foundation

/// 8-bit RGB images read and written with libpng's simplified `png_image_*` API, with the
/// opacity of a PNG that has it carried beside the colour: edits change the colour and keep it.
public struct RGBImage: Equatable, Sendable {
    public var width: Int, height: Int
    /// Interleaved RGB bytes, row-major.
    public var pixels: [UInt8]
    /// Opacity per pixel (0 transparent … 255 opaque, not premultiplied into `pixels`), row-major;
    /// nil for an opaque image. Written back by `writePNG`.
    public var alpha: [UInt8]?

    public init(width: Int, height: Int, pixels: [UInt8], alpha: [UInt8]? = nil) {
        precondition(pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        precondition(alpha.map { $0.count == width * height } ?? true, "RGBImage: \(alpha?.count ?? 0) alpha bytes for \(width)x\(height)")
        (self.width, self.height, self.pixels, self.alpha) = (width, height, pixels, alpha)
    }

    /// Reads a PNG file (any colour type; converted to 8-bit RGB, its alpha channel, when it has
    /// one, kept in `alpha`).
    public init(pngPath path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw InputError(path, "no such file") }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&image, path) != 0 else {
            throw InputError(path, "not a readable PNG (\(Self.message(image)))")
        }
        let chunks = PNGChunks(path: path)
        // libpng takes 16-bit samples without a gAMA, sRGB or iCCP chunk for linear light and
        // would brighten them on the way to 8-bit sRGB; such files hold the same encoding as 8-bit
        // ones almost always, so their samples are read as they are and scaled.
        let asStored = image.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0 && !chunks.declaresColourEncoding
        let hasAlpha = image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
        let channels = hasAlpha ? 4 : 3
        image.format = UInt32(asStored ? PNG_FORMAT_LINEAR_RGB : PNG_FORMAT_RGB) | (hasAlpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
        let (w, h) = (Int(image.width), Int(image.height))
        guard w > 0, h > 0, w * h <= 1 << 28 else {
            png_image_free(&image)
            throw InputError(path, "absurd image size \(w)x\(h)")
        }
        // A 45-byte file declaring 512×524288 16-bit RGBA pixels had 3 GB allocated for them.
        guard chunks.holdsImageData(width: w, height: h) else {
            png_image_free(&image)
            throw InputError(path, "declares \(w)x\(h) pixels but holds \(chunks.imageDataBytes) bytes of image data, too few for them (truncated or damaged)")
        }
        var stored = [UInt8](repeating: 0, count: w * h * channels)
        let ok: Int32
        if asStored {
            // libpng hands linear samples with alpha premultiplied; they are divided back out.
            var samples = [UInt16](repeating: 0, count: w * h * channels)
            ok = samples.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(w * channels), nil) }
            for p in 0..<(w * h) {
                let a = hasAlpha ? UInt32(samples[p * 4 + 3]) : 65535
                for c in 0..<channels {
                    var v = UInt32(samples[p * channels + c])
                    if c < 3 && hasAlpha { v = a == 0 ? 0 : min(65535, (v * 65535 + a / 2) / a) }
                    stored[p * channels + c] = UInt8((v * 255 + 32767) / 65535)
                }
            }
        } else {
            ok = stored.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(w * channels), nil) }
        }
        guard ok != 0 else {
            let reason = Self.message(image)
            png_image_free(&image)
            throw InputError(path, "PNG data is damaged (\(reason))")
        }
        guard hasAlpha else { self.init(width: w, height: h, pixels: stored); return }
        var pixels = [UInt8](repeating: 0, count: w * h * 3), alpha = [UInt8](repeating: 0, count: w * h)
        for p in 0..<(w * h) {
            for c in 0..<3 { pixels[p * 3 + c] = stored[p * 4 + c] }
            alpha[p] = stored[p * 4 + 3]
        }
        self.init(width: w, height: h, pixels: pixels, alpha: alpha)
    }

    /// Whether the file at `path` starts with PNG's 8-byte signature (formats are told by
    /// content, not by name).
    public static func hasPNGSignature(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 8)) ?? Data()
        return head == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    /// Writes a PNG atomically (temporary file, then rename), with its alpha channel when the
    /// image has one.
    public func writePNG(to path: String) throws {
        try AtomicFile.checkDestination(path)
        let temporary = AtomicFile.temporaryPath(for: path)
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        var bytes = pixels, channels = 3
        if let alpha {
            channels = 4
            bytes = [UInt8](repeating: 0, count: width * height * 4)
            for p in 0..<(width * height) {
                for c in 0..<3 { bytes[p * 4 + c] = pixels[p * 3 + c] }
                bytes[p * 4 + 3] = alpha[p]
            }
        }
        image.format = UInt32(PNG_FORMAT_RGB) | (channels == 4 ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
        let ok = bytes.withUnsafeBytes { png_image_write_to_file(&image, temporary, 0, $0.baseAddress, Int32(width * channels), nil) }
        guard ok != 0 else {
            let reason = Self.message(image)
            try? FileManager.default.removeItem(atPath: temporary)
            throw InputError(path, "cannot be written (\(reason))")
        }
        try AtomicFile.commit(temporary, to: path)
    }

    static func message(_ image: png_image) -> String {
        var copy = image
        return withUnsafeBytes(of: &copy.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// An image from a [3, H, W] tensor with values in [-1, 1].
    public init(tensor t: Tensor) {
        precondition(t.rank == 3 && t.shape[0] == 3, "RGBImage: expected [3, H, W], got \(t.shape)")
        let (h, w) = (t.shape[1], t.shape[2])
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for c in 0..<3 {
            for p in 0..<(h * w) {
                let v = (t.storage[c * h * w + p] / 2 + 0.5) * 255
                pixels[p * 3 + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        self.init(width: w, height: h, pixels: pixels)
    }

    /// This image as a [3, H, W] tensor in [-1, 1].
    public var tensor: Tensor {
        var t = Tensor(zeros: [3, height, width])
        for p in 0..<(width * height) {
            for c in 0..<3 { t.storage[c * width * height + p] = Float(pixels[p * 3 + c]) / 127.5 - 1 }
        }
        return t
    }

    /// A grid of same-sized images, `columns` wide.
    public static func grid(_ images: [RGBImage], columns: Int) -> RGBImage {
        precondition(!images.isEmpty, "grid: no images")
        let (w, h) = (images[0].width, images[0].height)
        let rows = (images.count + columns - 1) / columns
        var out = RGBImage(width: w * columns, height: h * rows, pixels: [UInt8](repeating: 0, count: w * columns * h * rows * 3))
        for (i, image) in images.enumerated() {
            let (ox, oy) = ((i % columns) * w, (i / columns) * h)
            for y in 0..<h {
                let src = y * w * 3, dst = ((oy + y) * out.width + ox) * 3
                out.pixels.replaceSubrange(dst ..< dst + w * 3, with: image.pixels[src ..< src + w * 3])
            }
        }
        return out
    }
}
