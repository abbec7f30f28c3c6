/// One resnet, optionally followed by a transformer: the unit that `DownBlock2D`,
/// `CrossAttnDownBlock2D`, `UpBlock2D` and `CrossAttnUpBlock2D` repeat, and the segment that a
/// checkpointing tape recomputes in its backward pass.
struct ResnetAttentionLayer {
    var resnet: ResnetBlock2D
    var attention: Transformer2DModel?

    func callAsFunction(_ x: Variable, time: Variable, context: Variable) -> Variable {
        // A segment recomputed in the backward pass keeps no module outputs, so capturing tapes do not checkpoint.
        guard let tape = x.tape, tape.checkpointsSegments, tape.capturing.isEmpty else { return forward(x, time: time, context: context) }
        return GradientTape.checkpointed([x, time, context]) { v in forward(v[0], time: v[1], context: v[2]) }
    }

    func forward(_ x: Variable, time: Variable, context: Variable) -> Variable {
        let h = resnet(x, time)
        return attention.map { $0(h, context: context) } ?? h
    }
}

/// `DownBlock2D` / `CrossAttnDownBlock2D` (`models/unets/unet_2d_blocks.py`).
struct UNetDownBlock {
    var layers: [ResnetAttentionLayer]
    var downsampler: Conv2d?

    /// Returns the block's output and the skip tensors it hands to the up path.
    func callAsFunction(_ x: Variable, time: Variable, context: Variable) -> (Variable, [Variable]) {
        var h = x
        var skips = [Variable]()
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

    func callAsFunction(_ x: Variable, skips: inout [Variable], time: Variable, context: Variable, upsampleTo size: (Int, Int)?) -> Variable {
        var h = x
        for layer in layers {
            let skip = skips.removeLast()
            h = layer(Variable.concatenateChannels(h, skip), time: time, context: context)
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

    func callAsFunction(_ x: Variable, time: Variable, context: Variable) -> Variable {
        var h = first(x, time)
        for pair in rest {
            if let a = pair.attention { h = a(h, context: context) }
            h = pair.resnet(h, time)
        }
        return h
    }
}
