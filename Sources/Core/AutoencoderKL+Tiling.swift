/// Tiled encoding and decoding for images larger than the VAE's own size, as diffusers'
/// `AutoencoderKL.enable_tiling()` does (`autoencoder_kl.py`: `_tiled_encode`, `tiled_decode`,
/// `blend_v`, `blend_h`): overlapping tiles, each coded alone, blended linearly over the overlap
/// and cropped, so memory stays bounded by one tile whatever the panorama's size.
extension AutoencoderKL {
    /// Pixels per latent cell.
    public var downscale: Int { 1 << (configuration.blockOutChannels.count - 1) }

    /// diffusers' `tile_sample_min_size`: the config's `sample_size` (512 for Stable Diffusion 1.x).
    public var tileSampleSize: Int { configuration.sampleSize ?? 512 }

    /// `encode`, tile by tile once the image is larger than `tile` pixels (default `tileSampleSize`);
    /// tiles overlap by `overlap` of their size.
    public func encodeTiled(_ images: Tensor, tile: Int? = nil, overlap: Float = 0.25) -> Tensor {
        let sampleTile = tile ?? tileSampleSize, latentTile = sampleTile / downscale
        guard images.shape[2] > sampleTile || images.shape[3] > sampleTile else { return encode(images) }
        let blend = Int(Float(latentTile) * overlap)
        return Self.tiled(images, tile: sampleTile, stride: Int(Float(sampleTile) * (1 - overlap)), blend: blend,
                          keep: latentTile - blend, code: encode)
    }

    /// `decode`, tile by tile once the latents are larger than `tile` pixels' worth of cells.
    public func decodeTiled(_ latents: Tensor, tile: Int? = nil, overlap: Float = 0.25) -> Tensor {
        let sampleTile = tile ?? tileSampleSize, latentTile = sampleTile / downscale
        guard latents.shape[2] > latentTile || latents.shape[3] > latentTile else { return decode(latents) }
        let blend = Int(Float(sampleTile) * overlap)
        return Self.tiled(latents, tile: latentTile, stride: Int(Float(latentTile) * (1 - overlap)), blend: blend,
                          keep: sampleTile - blend, code: decode)
    }

    /// Codes `tile`-sized windows every `stride` cells; blends each coded tile with the one above
    /// and the one to its left over `blend` rows/columns (in place and in that order, as diffusers
    /// does) and keeps the first `keep` rows and columns of each.
    static func tiled(_ x: Tensor, tile: Int, stride: Int, blend: Int, keep: Int, code: (Tensor) -> Tensor) -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        let rowStarts = Array(Swift.stride(from: 0, to: h, by: stride)), columnStarts = Array(Swift.stride(from: 0, to: w, by: stride))
        var tiles = rowStarts.map { i in columnStarts.map { j in code(x.cropped(top: i, left: j, height: min(tile, h - i), width: min(tile, w - j))) } }
        for i in tiles.indices {
            for j in tiles[i].indices {
                if i > 0 { blendVertically(above: tiles[i - 1][j], into: &tiles[i][j], extent: blend) }
                if j > 0 { blendHorizontally(left: tiles[i][j - 1], into: &tiles[i][j], extent: blend) }
            }
        }
        let heights = tiles.map { min(keep, $0[0].shape[2]) }, widths = tiles[0].map { min(keep, $0.shape[3]) }
        let (n, c) = (tiles[0][0].shape[0], tiles[0][0].shape[1])
        var out = Tensor(zeros: [n, c, heights.reduce(0, +), widths.reduce(0, +)])
        var top = 0
        for i in tiles.indices {
            var left = 0
            for j in tiles[i].indices {
                out.place(tiles[i][j].cropped(top: 0, left: 0, height: heights[i], width: widths[j]), top: top, left: left)
                left += widths[j]
            }
            top += heights[i]
        }
        return out
    }

    /// `b[:, :, y, :] = a[:, :, -e + y, :]·(1 − y/e) + b[:, :, y, :]·(y/e)` for y < e.
    static func blendVertically(above a: Tensor, into b: inout Tensor, extent: Int) {
        let e = min(a.shape[2], b.shape[2], extent)
        let (n, c, ah, bh, wd) = (b.shape[0], b.shape[1], a.shape[2], b.shape[2], b.shape[3])
        precondition(a.shape[3] == wd, "blend: tile widths differ")
        for p in 0..<(n * c) {
            for y in 0..<e {
                let t = Float(y) / Float(e)
                for x in 0..<wd {
                    let bi = (p * bh + y) * wd + x
                    b.storage[bi] = a.storage[(p * ah + ah - e + y) * wd + x] * (1 - t) + b.storage[bi] * t
                }
            }
        }
    }

    /// `b[:, :, :, x] = a[:, :, :, -e + x]·(1 − x/e) + b[:, :, :, x]·(x/e)` for x < e.
    static func blendHorizontally(left a: Tensor, into b: inout Tensor, extent: Int) {
        let e = min(a.shape[3], b.shape[3], extent)
        let (n, c, ht, aw, bw) = (b.shape[0], b.shape[1], b.shape[2], a.shape[3], b.shape[3])
        precondition(a.shape[2] == ht, "blend: tile heights differ")
        for p in 0..<(n * c) {
            for y in 0..<ht {
                for x in 0..<e {
                    let t = Float(x) / Float(e)
                    let bi = (p * ht + y) * bw + x
                    b.storage[bi] = a.storage[(p * ht + y) * aw + aw - e + x] * (1 - t) + b.storage[bi] * t
                }
            }
        }
    }
}

extension Tensor {
    /// Rows `top..<top+height` and columns `left..<left+width` of every NCHW plane.
    public func cropped(top: Int, left: Int, height: Int, width: Int) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        precondition(top >= 0 && left >= 0 && top + height <= h && left + width <= w, "cropped: region outside \(shape)")
        var out = Tensor(zeros: [n, c, height, width])
        for p in 0..<(n * c) {
            for y in 0..<height {
                let source = (p * h + top + y) * w + left, destination = (p * height + y) * width
                out.storage.replaceSubrange(destination..<(destination + width), with: storage[source..<(source + width)])
            }
        }
        return out
    }

    /// Writes `tile` (same N and C) into this tensor with its corner at (`top`, `left`).
    public mutating func place(_ tile: Tensor, top: Int, left: Int) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (th, tw) = (tile.shape[2], tile.shape[3])
        precondition(tile.shape[0] == n && tile.shape[1] == c && top + th <= h && left + tw <= w, "place: \(tile.shape) does not fit \(shape)")
        for p in 0..<(n * c) {
            for y in 0..<th {
                let destination = (p * h + top + y) * w + left, source = (p * th + y) * tw
                storage.replaceSubrange(destination..<(destination + tw), with: tile.storage[source..<(source + tw)])
            }
        }
    }
}
