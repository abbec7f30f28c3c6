extension UNet2DConditionModel {
    /// The self-attention layers (`attn1`) of the up-blocks by diffusers name, each with the
    /// name of the `Transformer2DModel` it runs in (whose output's height and width are the grid
    /// of the layer's tokens), in the order the forward pass meets them: the features
    /// Contrastive Denoising Score compares.
    public var upBlockSelfAttentions: [(name: String, transformer: String)] {
        var found = [(name: String, transformer: String)]()
        for block in upBlocks {
            for layer in block.layers {
                guard let transformer = layer.attention else { continue }
                for basic in transformer.blocks { found.append((basic.attn1.name, transformer.name)) }
            }
        }
        return found
    }
}
