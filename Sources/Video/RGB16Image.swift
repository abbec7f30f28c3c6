import Core

/// A picture at 16 bits a sample (RGB interleaved, 0–65535), for video whose stream holds more
/// than 8 bits a sample: an edit adds its difference to it, so a 10-bit source comes out in 10
/// bits rather than rounded through 8.
public struct RGB16Image: Sendable, Equatable {
    public var width: Int, height: Int
    /// Row-major RGB, `width * height * 3` samples.
    public var samples: [UInt16]
    /// Opacity, `width * height` samples (65535 opaque, not premultiplied), when the picture has
    /// an alpha channel; an edit changes the colour and carries it.
    public var alpha: [UInt16]?

    public init(width: Int, height: Int, samples: [UInt16], alpha: [UInt16]? = nil) {
        precondition(samples.count == width * height * 3, "RGB16Image: \(samples.count) samples for \(width)x\(height)")
        precondition(alpha.map { $0.count == width * height } ?? true, "RGB16Image: alpha of \(alpha?.count ?? 0) for \(width)x\(height)")
        (self.width, self.height, self.samples, self.alpha) = (width, height, samples, alpha)
    }

    /// Rounded to 8 bits a sample (v · 255 / 65535), alpha too.
    public var eightBit: RGBImage {
        func round(_ v: UInt16) -> UInt8 { UInt8((UInt32(v) * 255 + 32767) / 65535) }
        return RGBImage(width: width, height: height, pixels: samples.map(round), alpha: alpha?.map(round))
    }

    /// This image with `difference` (3×h×w at any size, in the [−1, 1] units of
    /// `RGBImage.tensor`) upsampled to its size and added, as `RGBImage.applying(difference:)`
    /// does at 8 bits.
    public func applying(difference: Tensor) -> RGB16Image {
        RGB16Image(width: width, height: height, samples: RGBImage.adding(difference, to: samples, width: width, height: height), alpha: alpha)
    }

    /// This image mirrored left to right.
    public func mirrored() -> RGB16Image {
        RGB16Image(width: width, height: height, samples: Rotation.mirror(samples, width: width, height: height),
                   alpha: alpha.map { Rotation.mirror($0, width: width, height: height, channels: 1) })
    }

    /// This image turned clockwise by 0, 90, 180 or 270 degrees.
    public func rotated(clockwise degrees: Int) -> RGB16Image {
        let (turned, w, h) = Rotation.turn(samples, width: width, height: height, clockwise: degrees)
        let alpha = self.alpha.map { Rotation.turn($0, width: width, height: height, channels: 1, clockwise: degrees).pixels }
        return RGB16Image(width: w, height: h, samples: turned, alpha: alpha)
    }
}

/// Quarter turns and mirroring of interleaved pictures of any sample type.
enum Rotation {
    /// `pixels` (`channels` samples a pixel, `width`×`height`) mirrored left to right.
    static func mirror<Sample>(_ pixels: [Sample], width w: Int, height h: Int, channels: Int = 3) -> [Sample] {
        var out = pixels
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<channels { out[(y * w + (w - 1 - x)) * channels + c] = pixels[(y * w + x) * channels + c] }
            }
        }
        return out
    }

    /// `pixels` (`channels` samples a pixel, `width`×`height`) turned clockwise by 90, 180 or 270
    /// degrees (any other angle leaves them as they are), and the turned size.
    static func turn<Sample>(_ pixels: [Sample], width w: Int, height h: Int, channels: Int = 3,
                             clockwise degrees: Int) -> (pixels: [Sample], width: Int, height: Int) {
        guard [90, 180, 270].contains(degrees), let first = pixels.first else { return (pixels, w, h) }
        let (ow, oh) = degrees == 180 ? (w, h) : (h, w)
        var out = [Sample](repeating: first, count: pixels.count)
        for y in 0..<h {
            for x in 0..<w {
                let (ox, oy): (Int, Int)
                switch degrees {
                case 90: (ox, oy) = (h - 1 - y, x)
                case 180: (ox, oy) = (w - 1 - x, h - 1 - y)
                default: (ox, oy) = (y, w - 1 - x)
                }
                for c in 0..<channels { out[(oy * ow + ox) * channels + c] = pixels[(y * w + x) * channels + c] }
            }
        }
        return (out, ow, oh)
    }
}
