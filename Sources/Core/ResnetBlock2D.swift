/// diffusers' `ResnetBlock2D` (`models/resnet.py`), `time_embedding_norm="default"`:
/// GN → SiLU → conv → (+ time projection) → GN → SiLU → conv, plus a 1x1 shortcut when the
/// channel count changes, divided by `output_scale_factor`.
public struct ResnetBlock2D {
    var norm1: GroupNorm, conv1: Conv2d
    var timeProjection: Linear?
    var norm2: GroupNorm, conv2: Conv2d
    var shortcut: Conv2d?
    var outputScaleFactor: Float
    /// The module's diffusers name (`down_blocks.0.resnets.1`), under which a tape captures its output.
    public let name: String

    public init(_ store: ParameterStore, _ prefix: String, inChannels: Int, outChannels: Int,
                timeChannels: Int?, groups: Int, eps: Float, outputScaleFactor: Float = 1) throws {
        norm1 = try GroupNorm(store, "\(prefix).norm1", channels: inChannels, groups: groups, eps: eps)
        conv1 = try Conv2d(store, "\(prefix).conv1", inChannels: inChannels, outChannels: outChannels, kernel: 3)
        timeProjection = try timeChannels.map {
            try Linear(store, "\(prefix).time_emb_proj", inFeatures: $0, outFeatures: outChannels)
        }
        norm2 = try GroupNorm(store, "\(prefix).norm2", channels: outChannels, groups: groups, eps: eps)
        conv2 = try Conv2d(store, "\(prefix).conv2", inChannels: outChannels, outChannels: outChannels, kernel: 3)
        shortcut = inChannels != outChannels
            ? try Conv2d(store, "\(prefix).conv_shortcut", inChannels: inChannels, outChannels: outChannels, kernel: 1)
            : nil
        self.outputScaleFactor = outputScaleFactor
        name = prefix
    }

    /// `x` NCHW; `timeEmbedding` [N, timeChannels] already passed through SiLU, or nil.
    public func callAsFunction(_ x: Tensor, _ activatedTimeEmbedding: Tensor?) -> Tensor {
        callAsFunction(Variable(x), activatedTimeEmbedding.map(Variable.init)).value
    }

    public func callAsFunction(_ x: Variable, _ activatedTimeEmbedding: Variable?) -> Variable {
        var h = conv1(norm1(x, thenSiLU: true))
        if let proj = timeProjection, let t = activatedTimeEmbedding {
            h = h.addingPerChannel(proj(t.sharingTape(with: x)))
        }
        h = conv2(norm2(h, thenSiLU: true))
        let out = (shortcut.map { $0(x) } ?? x) + h
        return (outputScaleFactor == 1 ? out : out.scaled(by: 1 / outputScaleFactor)).captured(as: name)
    }
}
