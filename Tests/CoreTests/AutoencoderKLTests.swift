import Testing
@testable import Core

@Suite struct AutoencoderKLTests {
    @Test func encodeMatchesDiffusers() throws {
        let vae = try AutoencoderKL(folder: Fixtures.path("tiny-sd/vae"))
        expectClose(vae.encode(Fixtures.reference("vae.image")), Fixtures.reference("vae.encoded"), "VAE encode")
    }

    @Test func decodeMatchesDiffusers() throws {
        let vae = try AutoencoderKL(folder: Fixtures.path("tiny-sd/vae"))
        expectClose(vae.decode(Fixtures.reference("vae.latents")), Fixtures.reference("vae.decoded"), "VAE decode")
    }
}
