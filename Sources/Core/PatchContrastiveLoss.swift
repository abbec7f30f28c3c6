import Foundation

/// The patch-wise contrastive (PatchNCE) loss of CUT (Park et al. 2020) as Contrastive Denoising
/// Score applies it to a UNet's self-attention outputs (Nam et al. 2023, eq. 8; the CDS
/// repository's `utils/loss.py`, `CutLoss`).
///
/// For one item's tokens [L, C] on an h×w grid, at each patch size s (average-pooled s×s, floor):
/// the pooled tokens are L2-normalised over channels, `patches` locations are drawn (a random
/// permutation's first ones), and for each drawn location i of the edited branch q_i the positive
/// is the source branch's k_i at the same place and the negatives are k_i·q_j at the other drawn
/// places j. The loss is InfoNCE, `−log softmax([k_i·q_i, k_i·q_j (j ≠ i), −10] / τ)₀`, averaged
/// over i (the `−10` is the reference's masked diagonal, kept so the values match), summed over
/// the patch sizes. The source features are constants; the gradient is with respect to the edited.
public struct PatchContrastiveLoss: Sendable {
    /// Locations drawn per layer and patch size (256 in the CDS repository).
    public var patches: Int
    /// Pooling sizes (the CDS repository's `[1, 2]`).
    public var patchSizes: [Int]
    /// The InfoNCE temperature τ (0.07).
    public var temperature: Float

    public init(patches: Int = 256, patchSizes: [Int] = [1, 2], temperature: Float = 0.07) {
        self.patches = patches
        self.patchSizes = patchSizes
        self.temperature = temperature
    }

    /// The loss and its gradient with respect to `edited`.
    public struct Evaluation {
        public var loss: Float
        /// [L, C], the shape of `edited`.
        public var gradient: Tensor
    }

    /// The loss of `edited` against `source`, both [L, C] with L = height·width (row-major
    /// tokens), with the locations drawn from `rng`: one permutation per patch size, in order.
    public func evaluate(source: Tensor, edited: Tensor, height: Int, width: Int, rng: inout RandomGenerator) -> Evaluation {
        let ids = patchSizes.map { s -> [Int] in
            let count = (height / s) * (width / s)
            var order = Array(0..<count)
            // Fisher–Yates from the back, one draw per position.
            var i = count - 1
            while i > 0 {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
                i -= 1
            }
            return Array(order.prefix(min(patches, count)))
        }
        return evaluate(source: source, edited: edited, height: height, width: width, locations: ids)
    }

    /// The loss with the drawn locations given: `locations[k]` indexes the pooled grid of
    /// `patchSizes[k]` (row-major, (height/s)·(width/s) cells).
    public func evaluate(source: Tensor, edited: Tensor, height: Int, width: Int, locations: [[Int]]) -> Evaluation {
        let channels = edited.shape[1]
        var gradient = [Float](repeating: 0, count: edited.count)
        var loss: Float = 0
        for (s, ids) in zip(patchSizes, locations) where !ids.isEmpty {
            let (ph, pw) = (height / s, width / s)
            precondition(ids.allSatisfy { $0 >= 0 && $0 < ph * pw }, "PatchContrastiveLoss: a location outside the pooled grid")
            let k = Self.normalizedPooled(source.storage, ids: ids, size: s, width: width, pooledWidth: pw, channels: channels)
            let q = Self.normalizedPooled(edited.storage, ids: ids, size: s, width: width, pooledWidth: pw, channels: channels)
            let p = ids.count
            let tau = temperature
            // Logits a_ij = k_i·q_j / τ, positive on the diagonal.
            var dA = [Float](repeating: 0, count: p * p)
            for i in 0..<p {
                var row = [Float](repeating: 0, count: p)
                for j in 0..<p {
                    var dot: Float = 0
                    for c in 0..<channels { dot += k.values[i * channels + c] * q.values[j * channels + c] }
                    row[j] = dot / tau
                }
                let masked = -10 / tau
                var top = masked
                for v in row { top = max(top, v) }
                // Entries: the positive row[i], the negatives row[j≠i], and the masked diagonal.
                var sum = Float.zero
                for v in row { sum += exp(v - top) }
                sum += exp(masked - top)
                let lse = top + log(sum)
                loss += (lse - row[i]) / Float(p)
                for j in 0..<p {
                    let prob = exp(row[j] - lse)
                    dA[i * p + j] = (j == i ? prob - 1 : prob) / Float(p)
                }
            }
            // dL/dq_j = Σ_i dA_ij·k_i/τ, then back through the normalisation and the pooling.
            let share = 1 / Float(s * s)
            for j in 0..<p {
                var dq = [Float](repeating: 0, count: channels)
                for i in 0..<p where dA[i * p + j] != 0 {
                    let a = dA[i * p + j] / tau
                    for c in 0..<channels { dq[c] += a * k.values[i * channels + c] }
                }
                var along: Float = 0
                for c in 0..<channels { along += q.values[j * channels + c] * dq[c] }
                let inverse = 1 / q.norms[j]
                let (py, px) = (ids[j] / pw, ids[j] % pw)
                for dy in 0..<s {
                    for dx in 0..<s {
                        let token = (py * s + dy) * width + px * s + dx
                        for c in 0..<channels {
                            gradient[token * channels + c] += (dq[c] - q.values[j * channels + c] * along) * inverse * share
                        }
                    }
                }
            }
        }
        return Evaluation(loss: loss, gradient: Tensor(shape: edited.shape, storage: gradient))
    }

    /// The tokens at `ids` of the s×s average-pooled grid, each divided by its norm (at least
    /// 1e-12, as `F.normalize`), with the norms.
    static func normalizedPooled(_ tokens: [Float], ids: [Int], size s: Int, width: Int, pooledWidth pw: Int,
                                 channels: Int) -> (values: [Float], norms: [Float]) {
        var values = [Float](repeating: 0, count: ids.count * channels)
        var norms = [Float](repeating: 0, count: ids.count)
        let share = 1 / Float(s * s)
        for (n, id) in ids.enumerated() {
            let (py, px) = (id / pw, id % pw)
            for dy in 0..<s {
                for dx in 0..<s {
                    let token = (py * s + dy) * width + px * s + dx
                    for c in 0..<channels { values[n * channels + c] += tokens[token * channels + c] * share }
                }
            }
            var squares: Float = 0
            for c in 0..<channels { squares += values[n * channels + c] * values[n * channels + c] }
            let norm = max(squares.squareRoot(), 1e-12)
            norms[n] = norm
            for c in 0..<channels { values[n * channels + c] /= norm }
        }
        return (values, norms)
    }
}
