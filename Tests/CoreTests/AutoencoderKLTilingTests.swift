import Testing
@testable import Core

/// Tiled VAE coding against diffusers' `enable_tiling()` (Tools/make_tiled_vae_reference.py):
/// 16-pixel tiles over a 40x58 image and 21x30 latents, edges not on the tile grid.
@Suite struct AutoencoderKLTilingTests {
    static let reference = try! SafetensorsFile(path: Fixtures.path("vae-tiled.safetensors"))

    @Test func tiledEncodeMatchesDiffusers() throws {
        let vae = try AutoencoderKL(folder: Fixtures.path("tiny-sd/vae"))
        #expect(vae.tileSampleSize == 16)
        let image = try Self.reference.tensor("image")
        let tiled = vae.encodeTiled(image)
        expectClose(tiled, try Self.reference.tensor("encoded"), "tiled encode")
        // Tiling is not a no-op: each tile is coded alone, so the whole-image code differs.
        #expect(tiled.maxAbsDifference(vae.encode(image)) > 1e-3)
    }

    @Test func tiledDecodeMatchesDiffusers() throws {
        let vae = try AutoencoderKL(folder: Fixtures.path("tiny-sd/vae"))
        expectClose(vae.decodeTiled(try Self.reference.tensor("latents")), try Self.reference.tensor("decoded"), "tiled decode")
    }

    @Test func inputsWithinOneTileAreCodedWhole() throws {
        let vae = try AutoencoderKL(folder: Fixtures.path("tiny-sd/vae"))
        let image = Fixtures.reference("vae.image")
        #expect(vae.encodeTiled(image, tile: max(image.shape[2], image.shape[3])) == vae.encode(image))
    }

    @Test func cropThenPlaceRestoresTheRegion() {
        var rng = RandomGenerator(seed: 5)
        let x = rng.normal([2, 3, 7, 9])
        var y = Tensor(zeros: x.shape)
        for (top, left, h, w) in [(0, 0, 4, 5), (0, 5, 4, 4), (4, 0, 3, 9)] {
            y.place(x.cropped(top: top, left: left, height: h, width: w), top: top, left: left)
        }
        #expect(y == x)
    }
}
