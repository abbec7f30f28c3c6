import Core
import Foundation

/// Attention alone at the shapes of a Stable Diffusion 1.x UNet at a 32×32 latent, batch 2
/// (self-attention at each resolution, and cross-attention on 77 text tokens), and of the bundled
/// prior at 64×64 (16×16 tokens, 4 heads of 32, 16 text tokens), so the kernel can be compared
/// with sgemm without the rest of the forward around it.
struct AttentionBench {
    struct Shape { let name: String; let queries: Int; let keys: Int; let channels: Int; let heads: Int }

    static let shapes = [
        Shape(name: "self 32x32 (1024x1024, d 40)", queries: 1024, keys: 1024, channels: 320, heads: 8),
        Shape(name: "self 16x16 (256x256, d 80)", queries: 256, keys: 256, channels: 640, heads: 8),
        Shape(name: "self 8x8 (64x64, d 160)", queries: 64, keys: 64, channels: 1280, heads: 8),
        Shape(name: "cross 32x32 (1024x77, d 40)", queries: 1024, keys: 77, channels: 320, heads: 8),
        Shape(name: "prior self 16x16 (256x256, d 32)", queries: 256, keys: 256, channels: 128, heads: 4),
        Shape(name: "prior cross 16x16 (256x16, d 32)", queries: 256, keys: 16, channels: 128, heads: 4),
    ]

    /// Median milliseconds and GFLOP/s (4·Lq·Lk·C per batch item) for each shape.
    static func measure(runs: Int, batch: Int = 2) -> [(shape: Shape, ms: Double, gflops: Double)] {
        var rng = RandomGenerator(seed: 7)
        return shapes.map { s in
            let q = rng.normal([batch, s.queries, s.channels])
            let k = rng.normal([batch, s.keys, s.channels]), v = rng.normal([batch, s.keys, s.channels])
            _ = Tensor.attention(query: q, key: k, value: v, heads: s.heads)
            var times = [Double]()
            for _ in 0..<max(1, runs) {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = Tensor.attention(query: q, key: k, value: v, heads: s.heads)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            let ms = times.sorted()[times.count / 2]
            let flop = 4.0 * Double(batch * s.queries * s.keys * s.channels)
            return (s, ms, flop / ms / 1e6)
        }
    }
}
