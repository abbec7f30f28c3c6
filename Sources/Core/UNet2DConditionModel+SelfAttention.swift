extension UNet2DConditionModel {
    /// The self-attention layers (`attn1`) of the up-blocks by diffusers name, each with how many
    /// times the sample has been halved where it runs (its tokens lie on that grid), in the
    /// order the forward pass meets them: the features Contrastive Denoising Score compares.
    public var upBlockSelfAttentions: [(name: String, halvings: Int)] {
        let levels = upBlocks.count
        var found = [(name: String, halvings: Int)]()
        for (i, block) in upBlocks.enumerated() {
            for layer in block.layers {
                for transformer in layer.attention?.blocks ?? [] {
                    found.append((transformer.attn1.name, levels - 1 - i))
                }
            }
        }
        return found
    }

    /// The grid an `attn1` that runs after `halvings` halvings of an h×w sample works on: each
    /// halving is a 3×3 stride-2 convolution padded by 1, so ⌈h/2⌉ × ⌈w/2⌉.
    public static func grid(height: Int, width: Int, halvings: Int) -> (height: Int, width: Int) {
        var (h, w) = (height, width)
        for _ in 0..<halvings { (h, w) = ((h + 1) / 2, (w + 1) / 2) }
        return (h, w)
    }
}
