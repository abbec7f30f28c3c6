import Foundation
import Testing
@testable import Core

/// 16-bit PNGs are read as they are stored; alpha is read, kept through an edit and written.
@Suite struct PNGImageTests {
    /// A 16-bit RGB (or, with `channels` 4, RGBA) PNG of `samples` (row-major, big-endian in the
    /// file), with a gAMA chunk of 1/2.2 when `gamma`, its image data in stored (uncompressed)
    /// deflate blocks.
    /// PNG's CRC-32 of a chunk's type and data.
    static func crc(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    static func sixteenBitPNG(width: Int, height: Int, samples: [UInt16], gamma: Bool, channels: Int = 3) -> Data {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] { be32(UInt32(body.count)) + Array(type.utf8) + body + be32(Self.crc(Array(type.utf8) + body)) }
        var raw = [UInt8]()
        for y in 0..<height {
            raw.append(0)   // filter: none
            for v in samples[(y * width * channels)..<((y + 1) * width * channels)] { raw += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        }
        var (a, b): (UInt32, UInt32) = (1, 0)
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        var zlib: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let count = min(65535, raw.count - start)
            zlib += [start + count == raw.count ? 1 : 0, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            zlib += raw[start..<(start + count)]
            start += count
        } while start < raw.count
        zlib += be32(b << 16 | a)
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [16, channels == 4 ? 6 : 2, 0, 0, 0])
        if gamma { png += chunk("gAMA", be32(45455)) }
        png += chunk("IDAT", zlib) + chunk("IEND", [])
        return Data(png)
    }

    /// A file that declares far more pixels than its image data can inflate to (the fuzzer's
    /// 45 bytes declaring 512×524288 16-bit RGBA pixels, 3 GB once read) is refused before they
    /// are allocated; the same file declaring its true 2×2 reads.
    @Test func aPNGDeclaringMorePixelsThanItHoldsIsRefusedBeforeReading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-png-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let honest = Self.sixteenBitPNG(width: 2, height: 2, samples: Array(repeating: 30000, count: 16), gamma: false, channels: 4)
        var lying = [UInt8](honest)
        lying.replaceSubrange(16..<24, with: [0, 0, 0x02, 0x00, 0, 0x08, 0, 0])   // IHDR: 512 × 524288
        let crc = Self.crc(Array(lying[12..<29]))
        lying.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        let (honestPath, lyingPath) = ("\(dir)/honest.png", "\(dir)/lying.png")
        try honest.write(to: URL(fileURLWithPath: honestPath))
        try Data(lying).write(to: URL(fileURLWithPath: lyingPath))
        #expect(try RGBImage(pngPath: honestPath).width == 2)
        let chunks = PNGChunks(path: lyingPath)
        #expect(chunks.bitsPerPixel == 64 && chunks.imageDataBytes > 0 && !chunks.holdsImageData(width: 512, height: 524288))
        #expect(chunks.holdsImageData(width: 2, height: 2))
        do {
            _ = try RGBImage(pngPath: lyingPath)
            Issue.record("a PNG declaring 512x524288 pixels over \(chunks.imageDataBytes) bytes was read")
        } catch let error as InputError {
            #expect(error.description.contains("declares 512x524288 pixels"), "\(error)")
        }
    }

    /// Untagged 16-bit samples come back as the same levels at 8 bits (v·257 → v; libpng's
    /// linear-light reading took mid grey from 123 to 175); with gAMA 1/2.2 too.
    @Test func sixteenBitSamplesAreReadAsStored() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-png-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (w, h) = (16, 16)
        let levels = (0..<(w * h * 3)).map { UInt8(($0 * 37) % 256) }
        for gamma in [false, true] {
            let path = "\(dir)/sixteen-\(gamma).png"
            try Self.sixteenBitPNG(width: w, height: h, samples: levels.map { UInt16($0) * 257 }, gamma: gamma).write(to: URL(fileURLWithPath: path))
            #expect(PNGChunks(path: path).declaresColourEncoding == gamma)
            let image = try RGBImage(pngPath: path)
            let worst = zip(image.pixels, levels).map { abs(Int($0) - Int($1)) }.max()!
            #expect(worst <= (gamma ? 1 : 0), "gAMA \(gamma): off by up to \(worst)")
        }
    }

    /// Straight (not premultiplied) alpha round-trips through 8-bit RGBA PNGs exactly, and comes
    /// out of an untagged 16-bit RGBA PNG as stored (libpng premultiplies linear samples; that is
    /// undone).
    @Test func alphaIsReadAndWrittenBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("csd-png-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (w, h) = (16, 16)
        let levels = (0..<(w * h * 3)).map { UInt8(($0 * 37) % 256) }
        let alpha = (0..<(w * h)).map { UInt8(($0 * 53) % 256) }
        let image = RGBImage(width: w, height: h, pixels: levels, alpha: alpha)
        try image.writePNG(to: "\(dir)/eight.png")
        let read = try RGBImage(pngPath: "\(dir)/eight.png")
        #expect(read.alpha == alpha)
        // Where a pixel is fully transparent PNG may not keep its colour; elsewhere it must.
        let visible = (0..<(w * h)).filter { alpha[$0] > 0 }
        let changed = visible.filter { p in read.pixels[(p * 3)..<(p * 3 + 3)] != levels[(p * 3)..<(p * 3 + 3)] }
        #expect(changed.isEmpty, "colours changed under alpha > 0 at \(changed)")
        #expect(try RGBImage(pngPath: "\(dir)/eight.png").applying(difference: Tensor(zeros: [3, 4, 4])).alpha == alpha, "an edit keeps the alpha")

        var samples = [UInt16]()
        for p in 0..<(w * h) {
            for c in 0..<3 { samples.append(UInt16(levels[p * 3 + c]) * 257) }
            samples.append(UInt16(alpha[p]) * 257)
        }
        try Self.sixteenBitPNG(width: w, height: h, samples: samples, gamma: false, channels: 4).write(to: URL(fileURLWithPath: "\(dir)/sixteen.png"))
        let deep = try RGBImage(pngPath: "\(dir)/sixteen.png")
        #expect(deep.alpha == alpha)
        var worst = 0
        for p in 0..<(w * h) where alpha[p] >= 16 {
            for c in 0..<3 { worst = max(worst, abs(Int(deep.pixels[p * 3 + c]) - Int(levels[p * 3 + c]))) }
        }
        #expect(worst <= 1, "colour under alpha ≥ 16 off by up to \(worst)")
        // An opaque image stays RGB.
        try RGBImage(width: w, height: h, pixels: levels).writePNG(to: "\(dir)/opaque.png")
        #expect(try RGBImage(pngPath: "\(dir)/opaque.png").alpha == nil)
    }
}
