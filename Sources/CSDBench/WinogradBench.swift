import Core
import Foundation

/// 3×3 convolutions by Winograd's F(2×2, 3×3) against the direct or unfolded path they replace,
/// in the same run and in turn, at the shapes of a Stable Diffusion VAE (where
/// `Tensor.usesWinogradConvolution` picks Winograd) and of its UNet at a 32×32 latent (where it
/// does not: these show why).
struct WinogradBench {
    struct Shape { let name: String; let channels: Int; let side: Int }

    static let shapes = [
        Shape(name: "VAE 512 ch, 64x64", channels: 512, side: 64),
        Shape(name: "VAE 512 ch, 128x128", channels: 512, side: 128),
        Shape(name: "VAE 256 ch, 128x128", channels: 256, side: 128),
        Shape(name: "UNet 320 ch, 32x32", channels: 320, side: 32),
        Shape(name: "UNet 640 ch, 16x16", channels: 640, side: 16),
        Shape(name: "UNet 1280 ch, 8x8", channels: 1280, side: 8),
    ]

    /// Median milliseconds of `body` with Winograd and without, runs alternating; the first run
    /// each way warms the caches and the allocator and is not counted.
    static func timedInTurn(runs: Int, _ body: () -> Void) -> (winogradMs: Double, otherMs: Double) {
        defer { Tensor.winogradConvolution = true }
        var times: [Bool: [Double]] = [:]
        for run in 0..<(2 * max(1, runs) + 2) {
            let on = run % 2 == 0
            Tensor.winogradConvolution = on
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            if run >= 2 { times[on, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        return (median(times[true] ?? [0]), median(times[false] ?? [0]))
    }

    /// Median milliseconds of one image's convolution each way.
    static func measure(runs: Int) -> [(shape: Shape, winogradMs: Double, otherMs: Double)] {
        var rng = RandomGenerator(seed: 9)
        return shapes.map { s in
            let x = rng.normal([1, s.channels, s.side, s.side]), weight = rng.normal([s.channels, s.channels, 3, 3])
            let t = timedInTurn(runs: runs) { _ = x.conv2d(weight: weight, bias: nil, padding: .uniform(1)) }
            return (s, t.winogradMs, t.otherMs)
        }
    }

    /// Stable Diffusion 1.x's VAE (`vae/config.json` of runwayml/stable-diffusion-v1-5), random weights.
    static let sd15VAEConfig: [String: Any] = [
        "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512], "sample_size": 512, "scaling_factor": 0.18215,
        "down_block_types": Array(repeating: "DownEncoderBlock2D", count: 4), "up_block_types": Array(repeating: "UpDecoderBlock2D", count: 4),
    ]

    /// Median milliseconds of SD 1.x's VAE decoder on a `latentSide`² latent (one image), with
    /// Winograd and without, runs alternating.
    static func measureDecoder(runs: Int, latentSide: Int) throws -> (winogradMs: Double, otherMs: Double) {
        let configuration = try JSONDecoder().decode(AutoencoderKLConfiguration.self, from: try JSONSerialization.data(withJSONObject: sd15VAEConfig))
        let vae = try AutoencoderKL(configuration: configuration, store: ParameterStore.randomlyInitialised(seed: 3), configPath: "sd15 vae")
        var rng = RandomGenerator(seed: 4)
        let latents = rng.normal([1, 4, latentSide, latentSide])
        return timedInTurn(runs: runs) { _ = vae.decode(latents) }
    }
}
