import Foundation

/// What a PNG file's chunks say before any pixel is decoded (PNG specification, §5.3 and §11.2):
/// the header's bit depth and colour type, whether a gAMA, sRGB or iCCP chunk comes before the
/// image data, and how many bytes of image data (IDAT) the file holds.
struct PNGChunks {
    var bitDepth = 0, colourType = 0
    /// A gAMA, sRGB or iCCP chunk before the first IDAT: libpng then knows how the samples encode light.
    var declaresColourEncoding = false
    /// The IDAT chunks' lengths, summed, as far as the file holds them.
    var imageDataBytes = 0

    /// Deflate's largest compression ratio: a 258-byte match costs at least 2 bits, about 1032
    /// to 1 (RFC 1951). No image data inflates to more than this many times its size.
    static let largestDeflateRatio = 1032

    /// Walks the chunks of the PNG at `path` (after its 8-byte signature) by their headers alone;
    /// a file that cannot be opened has none.
    init(path: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        var (offset, seenImageData): (UInt64, Bool) = (8, false)
        while offset + 8 <= size {
            try? handle.seek(toOffset: offset)
            guard let header = try? handle.read(upToCount: 8), header.count == 8 else { break }
            let length = header.prefix(4).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let type = String(decoding: header.suffix(4), as: UTF8.self)
            let held = min(length, size - offset - 8)
            switch type {
            case "IHDR" where held >= 10:
                guard let fields = try? handle.read(upToCount: 10), fields.count == 10 else { break }
                (bitDepth, colourType) = (Int(fields[fields.startIndex + 8]), Int(fields[fields.startIndex + 9]))
            case "gAMA", "sRGB", "iCCP":
                if !seenImageData { declaresColourEncoding = true }
            case "IDAT":
                seenImageData = true
                imageDataBytes += Int(held)
            default:
                break
            }
            if type == "IEND" { break }
            offset += 12 + length
        }
    }

    /// Bits per pixel by the header: the bit depth times the samples of its colour type (grey 1,
    /// RGB 3, palette 1, grey and alpha 2, RGBA 4); 0 for a colour type PNG does not have.
    var bitsPerPixel: Int {
        bitDepth * ([0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colourType] ?? 0)
    }

    /// Whether the image data can inflate to a `width`×`height` image: the rows without
    /// interlacing (a filter byte and the packed samples each; interlacing only adds filter
    /// bytes) take at most `largestDeflateRatio` times the image data, plus a margin for small
    /// files. A file that declares far more pixels than it holds is truncated or damaged, and
    /// is refused before its pixels are allocated.
    func holdsImageData(width: Int, height: Int) -> Bool {
        let rows = height * (1 + (width * bitsPerPixel + 7) / 8)
        return rows <= Self.largestDeflateRatio * imageDataBytes + (1 << 16)
    }
}
