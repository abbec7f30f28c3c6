/// The VAE's single-head spatial self-attention (diffusers `Attention` with group norm and a
/// residual, as built for `UNetMidBlock2D`). Also reads the old names `query/key/value/proj_attn`.
struct SpatialSelfAttention {
    var norm: GroupNorm
    var toQ: Linear, toK: Linear, toV: Linear, toOut: Linear

    init(_ store: ParameterStore, _ prefix: String, channels: Int, groups: Int) throws {
        norm = try GroupNorm(store, "\(prefix).group_norm", channels: channels, groups: groups, eps: 1e-6)
        toQ = try Linear(store, "\(prefix).to_q", inFeatures: channels, outFeatures: channels)
        toK = try Linear(store, "\(prefix).to_k", inFeatures: channels, outFeatures: channels)
        toV = try Linear(store, "\(prefix).to_v", inFeatures: channels, outFeatures: channels)
        toOut = try Linear(store, "\(prefix).to_out.0", inFeatures: channels, outFeatures: channels)
    }

    func callAsFunction(_ x: Variable) -> Variable {
        let (h, w) = (x.shape[2], x.shape[3])
        let tokens = norm(x).channelsLast()
        let attended = Variable.attention(query: toQ(tokens), key: toK(tokens), value: toV(tokens), heads: 1)
        return toOut(attended).channelsFirst(height: h, width: w) + x
    }
}

/// `UNetMidBlock2D` without time embedding: resnet, attention, resnet.
struct VAEMidBlock {
    var resnet1: ResnetBlock2D, attention: SpatialSelfAttention?, resnet2: ResnetBlock2D

    init(_ store: ParameterStore, _ prefix: String, channels: Int, groups: Int, attention: Bool) throws {
        resnet1 = try ResnetBlock2D(store, "\(prefix).resnets.0", inChannels: channels, outChannels: channels, timeChannels: nil, groups: groups, eps: 1e-6)
        self.attention = attention ? try SpatialSelfAttention(store, "\(prefix).attentions.0", channels: channels, groups: groups) : nil
        resnet2 = try ResnetBlock2D(store, "\(prefix).resnets.1", inChannels: channels, outChannels: channels, timeChannels: nil, groups: groups, eps: 1e-6)
    }

    func callAsFunction(_ x: Variable) -> Variable {
        var h = resnet1(x, nil)
        if let a = attention { h = a(h) }
        return resnet2(h, nil)
    }
}

/// diffusers' `AutoencoderKL`: `Encoder` → `quant_conv` → mean of the latent Gaussian, and
/// `post_quant_conv` → `Decoder`. Latents are scaled by `scaling_factor` (and shifted by
/// `shift_factor` when the config has one), as the Stable Diffusion pipelines do.
public struct AutoencoderKL {
    public let configuration: AutoencoderKLConfiguration
    var encConvIn: Conv2d, encBlocks: [(resnets: [ResnetBlock2D], down: Conv2d?)], encMid: VAEMidBlock
    var encNorm: GroupNorm, encConvOut: Conv2d, quantConv: Conv2d?
    var postQuantConv: Conv2d?, decConvIn: Conv2d, decMid: VAEMidBlock
    var decBlocks: [(resnets: [ResnetBlock2D], up: Conv2d?)], decNorm: GroupNorm, decConvOut: Conv2d

    public init(configuration c: AutoencoderKLConfiguration, store: ParameterStore, configPath: String = "vae/config.json") throws {
        try c.validate(path: configPath)
        configuration = c
        store.aliases = [(".to_q.", ".query."), (".to_k.", ".key."), (".to_v.", ".value."), (".to_out.0.", ".proj_attn.")]
        let ch = c.blockOutChannels, n = ch.count, g = c.normNumGroups, z = c.latentChannels
        encConvIn = try Conv2d(store, "encoder.conv_in", inChannels: c.inChannels, outChannels: ch[0], kernel: 3)
        var enc = [(resnets: [ResnetBlock2D], down: Conv2d?)]()
        var out = ch[0]
        for i in 0..<n {
            let input = out
            out = ch[i]
            let resnets = try (0..<c.layersPerBlock).map {
                try ResnetBlock2D(store, "encoder.down_blocks.\(i).resnets.\($0)", inChannels: $0 == 0 ? input : out,
                                  outChannels: out, timeChannels: nil, groups: g, eps: 1e-6)
            }
            let down = i < n - 1
                ? try Conv2d(store, "encoder.down_blocks.\(i).downsamplers.0.conv", inChannels: out, outChannels: out, kernel: 3,
                             stride: 2, padding: Padding2D(top: 0, left: 0, bottom: 1, right: 1))
                : nil
            enc.append((resnets, down))
        }
        encBlocks = enc
        encMid = try VAEMidBlock(store, "encoder.mid_block", channels: ch[n - 1], groups: g, attention: c.midBlockAddAttention)
        encNorm = try GroupNorm(store, "encoder.conv_norm_out", channels: ch[n - 1], groups: g, eps: 1e-6)
        encConvOut = try Conv2d(store, "encoder.conv_out", inChannels: ch[n - 1], outChannels: 2 * z, kernel: 3)
        quantConv = c.useQuantConv ? try Conv2d(store, "quant_conv", inChannels: 2 * z, outChannels: 2 * z, kernel: 1) : nil

        postQuantConv = c.usePostQuantConv ? try Conv2d(store, "post_quant_conv", inChannels: z, outChannels: z, kernel: 1) : nil
        decConvIn = try Conv2d(store, "decoder.conv_in", inChannels: z, outChannels: ch[n - 1], kernel: 3)
        decMid = try VAEMidBlock(store, "decoder.mid_block", channels: ch[n - 1], groups: g, attention: c.midBlockAddAttention)
        let reversed = Array(ch.reversed())
        var dec = [(resnets: [ResnetBlock2D], up: Conv2d?)]()
        out = reversed[0]
        for i in 0..<n {
            let previous = out
            out = reversed[i]
            let resnets = try (0...c.layersPerBlock).map {
                try ResnetBlock2D(store, "decoder.up_blocks.\(i).resnets.\($0)", inChannels: $0 == 0 ? previous : out,
                                  outChannels: out, timeChannels: nil, groups: g, eps: 1e-6)
            }
            let up = i < n - 1
                ? try Conv2d(store, "decoder.up_blocks.\(i).upsamplers.0.conv", inChannels: out, outChannels: out, kernel: 3)
                : nil
            dec.append((resnets, up))
        }
        decBlocks = dec
        decNorm = try GroupNorm(store, "decoder.conv_norm_out", channels: ch[0], groups: g, eps: 1e-6)
        decConvOut = try Conv2d(store, "decoder.conv_out", inChannels: ch[0], outChannels: c.outChannels, kernel: 3)
        try store.finish()
    }

    /// Loads `vae/` of a diffusers folder.
    public init(folder: String, variant: String? = nil) throws {
        let configPath = "\(folder)/config.json"
        let configuration = try ConfigFile.decode(AutoencoderKLConfiguration.self, from: configPath)
        let store = try ParameterStore(paths: try ModelFolder.weightsFiles(in: folder, variant: variant))
        try self.init(configuration: configuration, store: store, configPath: configPath)
    }

    /// Images in [-1, 1], NCHW → scaled latents (the posterior's mean).
    public func encode(_ images: Tensor) -> Tensor { encode(Variable(images)).value }

    /// `encode` on variables: differentiable in the images and the selected parameters.
    public func encode(_ images: Variable) -> Variable {
        var h = encConvIn(images)
        for block in encBlocks {
            for r in block.resnets { h = r(h, nil) }
            if let d = block.down { h = d(h) }
        }
        h = encConvOut(encNorm(encMid(h), thenSiLU: true))
        if let q = quantConv { h = q(h) }
        let s = configuration.scalingFactor, shift = configuration.shiftFactor ?? 0
        return h.channels(0..<configuration.latentChannels).affine(scale: s, shift: -shift * s)
    }

    /// Scaled latents → images in about [-1, 1], NCHW.
    public func decode(_ latents: Tensor) -> Tensor { decode(Variable(latents)).value }

    /// `decode` on variables: differentiable in the latents and the selected parameters.
    public func decode(_ latents: Variable) -> Variable {
        let s = configuration.scalingFactor, shift = configuration.shiftFactor ?? 0
        var h = latents.affine(scale: 1 / s, shift: shift)
        if let p = postQuantConv { h = p(h) }
        h = decMid(decConvIn(h))
        for block in decBlocks {
            for r in block.resnets { h = r(h, nil) }
            if let u = block.up { h = u(h.upsampleNearest(height: h.shape[2] * 2, width: h.shape[3] * 2)) }
        }
        return decConvOut(decNorm(h, thenSiLU: true))
    }
}
