/// One resnet, optionally followed by a transformer: the unit that `DownBlock2D`,
/// `CrossAttnDownBlock2D`, `UpBlock2D` and `CrossAttnUpBlock2D` repeat.
struct ResnetAttentionLayer {
    var resnet: ResnetBlock2D
    var attention: Transformer2DModel?

    func callAsFunction(_ x: Tensor, time: Tensor, context: Tensor) -> Tensor {
        let h = resnet(x, time)
        return attention.map { $0(h, context: context) } ?? h
    }
}

/// `DownBlock2D` / `CrossAttnDownBlock2D` (`models/unets/unet_2d_blocks.py`).
struct UNetDownBlock {
    var layers: [ResnetAttentionLayer]
    var downsampler: Conv2d?

    /// Returns the block's output and the skip tensors it hands to the up path.
    func callAsFunction(_ x: Tensor, time: Tensor, context: Tensor) -> (Tensor, [Tensor]) {
        var h = x
        var skips = [Tensor]()
        for layer in layers {
            h = layer(h, time: time, context: context)
            skips.append(h)
        }
        if let down = downsampler {
            h = down(h)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// `UpBlock2D` / `CrossAttnUpBlock2D`: each layer takes one skip tensor, concatenated on channels.
struct UNetUpBlock {
    var layers: [ResnetAttentionLayer]
    var upsampler: Conv2d?

    func callAsFunction(_ x: Tensor, skips: inout [Tensor], time: Tensor, context: Tensor, upsampleTo size: (Int, Int)?) -> Tensor {
        var h = x
        for layer in layers {
            let skip = skips.removeLast()
            h = layer(Tensor.concatenateChannels(h, skip), time: time, context: context)
        }
        if let up = upsampler {
            let (th, tw) = size ?? (h.shape[2] * 2, h.shape[3] * 2)
            h = up(h.upsampleNearest(height: th, width: tw))
        }
        return h
    }
}

/// `UNetMidBlock2DCrossAttn`: resnet, then (transformer, resnet) pairs.
struct UNetMidBlock {
    var first: ResnetBlock2D
    var rest: [ResnetAttentionLayer]

    func callAsFunction(_ x: Tensor, time: Tensor, context: Tensor) -> Tensor {
        var h = first(x, time)
        for pair in rest {
            if let a = pair.attention { h = a(h, context: context) }
            h = pair.resnet(h, time)
        }
        return h
    }
}
