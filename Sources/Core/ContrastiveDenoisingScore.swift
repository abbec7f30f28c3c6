/// What Contrastive Denoising Score (Nam et al. 2023, arXiv 2311.18608) adds to DDS: the
/// patch-contrastive loss between the UNet's self-attention outputs on the edited branch
/// (x_t, target prompt) and on the source branch (x̂_t, source prompt), whose gradient through
/// the UNet is added to the DDS gradient (`ScoreDistillation.cds`).
public struct ContrastiveDenoisingScore: Sendable {
    public var loss: PatchContrastiveLoss
    /// `w_cut`, the contrastive term's weight against DDS's 1 (3.0, the CDS repository's default).
    public var weight: Float
    /// Diffusers names of the `attn1` layers compared; empty: every one in the up-blocks, as
    /// the CDS repository does.
    public var layers: [String]

    public init(loss: PatchContrastiveLoss = PatchContrastiveLoss(), weight: Float = 3, layers: [String] = []) {
        self.loss = loss
        self.weight = weight
        self.layers = layers
    }

    /// The layers compared on `unet` with their transformers' names: `layers`, or every
    /// up-block `attn1`. Nil when a named layer is not one of the up-blocks' self-attentions.
    public func resolvedLayers(on unet: UNet2DConditionModel) -> [(name: String, transformer: String)]? {
        let all = unet.upBlockSelfAttentions
        guard !layers.isEmpty else { return all }
        var chosen = [(name: String, transformer: String)]()
        for name in layers {
            guard let layer = all.first(where: { $0.name == name }) else { return nil }
            chosen.append(layer)
        }
        return chosen
    }
}
