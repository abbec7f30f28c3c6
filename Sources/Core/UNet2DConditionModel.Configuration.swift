/// `unet/config.json`, with diffusers' own keys and defaults
/// (`diffusers/models/unets/unet_2d_condition.py`).
public struct UNet2DConditionModelConfiguration: Codable, Equatable, Sendable {
    public var sampleSize: Int?
    public var inChannels: Int
    public var outChannels: Int
    public var centerInputSample: Bool
    public var flipSinToCos: Bool
    public var freqShift: Float
    public var downBlockTypes: [String]
    public var midBlockType: String?
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: IntOrList
    public var downsamplePadding: Int
    public var midBlockScaleFactor: Float
    public var actFn: String
    public var normNumGroups: Int
    public var normEps: Float
    public var crossAttentionDim: Int
    public var transformerLayersPerBlock: IntOrList
    public var attentionHeadDim: IntOrList
    public var numAttentionHeads: IntOrList?
    public var useLinearProjection: Bool
    public var classEmbedType: String?
    public var projectionClassEmbeddingsInputDim: Int?
    public var resnetTimeScaleShift: String
    public var timeEmbeddingType: String
    public var convInKernel: Int
    public var convOutKernel: Int
    public var additionEmbedType: String?
    /// Width of each time id's sinusoidal embedding under `addition_embed_type: "text_time"` (SDXL: 256).
    public var additionTimeEmbedDim: Int?
    public var encoderHidDim: Int?
    public var timeCondProjDim: Int?
    public var dualCrossAttention: Bool
    public var upcastAttention: Bool

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type", upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case downsamplePadding = "downsample_padding", midBlockScaleFactor = "mid_block_scale_factor"
        case actFn = "act_fn", normNumGroups = "norm_num_groups", normEps = "norm_eps"
        case crossAttentionDim = "cross_attention_dim", transformerLayersPerBlock = "transformer_layers_per_block"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case useLinearProjection = "use_linear_projection", classEmbedType = "class_embed_type"
        case projectionClassEmbeddingsInputDim = "projection_class_embeddings_input_dim"
        case resnetTimeScaleShift = "resnet_time_scale_shift", timeEmbeddingType = "time_embedding_type"
        case convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel"
        case additionEmbedType = "addition_embed_type", additionTimeEmbedDim = "addition_time_embed_dim", encoderHidDim = "encoder_hid_dim"
        case timeCondProjDim = "time_cond_proj_dim", dualCrossAttention = "dual_cross_attention"
        case upcastAttention = "upcast_attention"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sampleSize = try c.decodeIfPresent(Int.self, forKey: .sampleSize)
        inChannels = try c.value(.inChannels, or: 4)
        outChannels = try c.value(.outChannels, or: 4)
        centerInputSample = try c.value(.centerInputSample, or: false)
        flipSinToCos = try c.value(.flipSinToCos, or: true)
        freqShift = try c.value(.freqShift, or: 0)
        downBlockTypes = try c.value(.downBlockTypes, or: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"])
        midBlockType = try c.value(.midBlockType, or: "UNetMidBlock2DCrossAttn")
        upBlockTypes = try c.value(.upBlockTypes, or: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])
        blockOutChannels = try c.value(.blockOutChannels, or: [320, 640, 1280, 1280])
        layersPerBlock = try c.value(.layersPerBlock, or: .int(2))
        downsamplePadding = try c.value(.downsamplePadding, or: 1)
        midBlockScaleFactor = try c.value(.midBlockScaleFactor, or: 1)
        actFn = try c.value(.actFn, or: "silu")
        normNumGroups = try c.value(.normNumGroups, or: 32)
        normEps = try c.value(.normEps, or: 1e-5)
        crossAttentionDim = try c.value(.crossAttentionDim, or: 1280)
        transformerLayersPerBlock = try c.value(.transformerLayersPerBlock, or: .int(1))
        attentionHeadDim = try c.value(.attentionHeadDim, or: .int(8))
        numAttentionHeads = try c.decodeIfPresent(IntOrList.self, forKey: .numAttentionHeads)
        useLinearProjection = try c.value(.useLinearProjection, or: false)
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        projectionClassEmbeddingsInputDim = try c.decodeIfPresent(Int.self, forKey: .projectionClassEmbeddingsInputDim)
        resnetTimeScaleShift = try c.value(.resnetTimeScaleShift, or: "default")
        timeEmbeddingType = try c.value(.timeEmbeddingType, or: "positional")
        convInKernel = try c.value(.convInKernel, or: 3)
        convOutKernel = try c.value(.convOutKernel, or: 3)
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        additionTimeEmbedDim = try c.decodeIfPresent(Int.self, forKey: .additionTimeEmbedDim)
        encoderHidDim = try c.decodeIfPresent(Int.self, forKey: .encoderHidDim)
        timeCondProjDim = try c.decodeIfPresent(Int.self, forKey: .timeCondProjDim)
        dualCrossAttention = try c.value(.dualCrossAttention, or: false)
        upcastAttention = try c.value(.upcastAttention, or: false)
    }

    /// The width of the pooled text vector the UNet takes beside the time ids (`text_time`), or as
    /// its class labels (`projection`); nil when it takes none.
    public var pooledTextDim: Int? {
        if additionEmbedType == "text_time", let input = projectionClassEmbeddingsInputDim, let time = additionTimeEmbedDim {
            return input - 6 * time
        }
        return classEmbedType == "projection" ? projectionClassEmbeddingsInputDim : nil
    }

    /// Heads per block. diffusers reads `attention_head_dim` as the number of heads when
    /// `num_attention_heads` is absent (a naming quirk it keeps for compatibility).
    public var headsPerBlock: [Int] {
        (numAttentionHeads ?? attentionHeadDim).perBlock(blockOutChannels.count)
    }

    /// Rejects what this runtime does not implement, naming the key.
    public func validate(path: String) throws {
        let n = blockOutChannels.count
        func fail(_ message: String) -> InputError { InputError(path, message) }
        guard downBlockTypes.count == n, upBlockTypes.count == n else {
            throw fail("down_block_types and up_block_types need one entry per block_out_channels (\(n))")
        }
        for t in downBlockTypes where t != "DownBlock2D" && t != "CrossAttnDownBlock2D" {
            throw fail("unsupported block type '\(t)' in down_block_types (supported: DownBlock2D, CrossAttnDownBlock2D)")
        }
        for t in upBlockTypes where t != "UpBlock2D" && t != "CrossAttnUpBlock2D" {
            throw fail("unsupported block type '\(t)' in up_block_types (supported: UpBlock2D, CrossAttnUpBlock2D)")
        }
        if let m = midBlockType, m != "UNetMidBlock2DCrossAttn" {
            throw fail("unsupported block type '\(m)' in mid_block_type (supported: UNetMidBlock2DCrossAttn)")
        }
        guard actFn == "silu" || actFn == "swish" else { throw fail("unsupported act_fn '\(actFn)' (supported: silu)") }
        guard resnetTimeScaleShift == "default" else { throw fail("unsupported resnet_time_scale_shift '\(resnetTimeScaleShift)'") }
        guard timeEmbeddingType == "positional" else { throw fail("unsupported time_embedding_type '\(timeEmbeddingType)'") }
        if let t = classEmbedType, t != "projection" { throw fail("unsupported class_embed_type '\(t)' (supported: projection)") }
        if classEmbedType == "projection", projectionClassEmbeddingsInputDim == nil {
            throw fail("class_embed_type 'projection' needs projection_class_embeddings_input_dim")
        }
        if let t = additionEmbedType, t != "text_time" { throw fail("unsupported addition_embed_type '\(t)' (supported: text_time)") }
        if additionEmbedType == "text_time" {
            guard classEmbedType == nil else { throw fail("class_embed_type and addition_embed_type 'text_time' together are not supported") }
            guard let time = additionTimeEmbedDim, let input = projectionClassEmbeddingsInputDim else {
                throw fail("addition_embed_type 'text_time' needs addition_time_embed_dim and projection_class_embeddings_input_dim")
            }
            try ConfigFile.require(time, in: 2...4096, "addition_time_embed_dim", path: path)
            guard input > 6 * time, time % 2 == 0 else {
                throw fail("projection_class_embeddings_input_dim \(input) must exceed the six time ids' 6 × addition_time_embed_dim (\(6 * time)), which must be even")
            }
        }
        if encoderHidDim != nil { throw fail("unsupported encoder_hid_dim") }
        if timeCondProjDim != nil { throw fail("unsupported time_cond_proj_dim") }
        if dualCrossAttention { throw fail("unsupported dual_cross_attention") }
        guard headsPerBlock.count == n, layersPerBlock.perBlock(n).count == n,
              transformerLayersPerBlock.perBlock(n).count == n else {
            throw fail("per-block lists (attention_head_dim, layers_per_block, transformer_layers_per_block) need \(n) entries")
        }
        let channels = 1...16384
        try ConfigFile.require(inChannels, in: channels, "in_channels", path: path)
        try ConfigFile.require(outChannels, in: channels, "out_channels", path: path)
        try ConfigFile.require(blockOutChannels, in: channels, "block_out_channels", path: path)
        try ConfigFile.require(crossAttentionDim, in: channels, "cross_attention_dim", path: path)
        if let d = projectionClassEmbeddingsInputDim { try ConfigFile.require(d, in: channels, "projection_class_embeddings_input_dim", path: path) }
        try ConfigFile.require(layersPerBlock.perBlock(n), in: 1...64, "layers_per_block", path: path)
        try ConfigFile.require(transformerLayersPerBlock.perBlock(n), in: 1...64, "transformer_layers_per_block", path: path)
        try ConfigFile.require(normNumGroups, in: 1...16384, "norm_num_groups", path: path)
        for c in blockOutChannels where c % normNumGroups != 0 {
            throw fail("block of \(c) channels does not split into \(normNumGroups) groups (norm_num_groups)")
        }
        try ConfigFile.require(normEps, in: Float.leastNormalMagnitude...1, "norm_eps", path: path)
        try ConfigFile.require(midBlockScaleFactor, in: 1e-6...1e6, "mid_block_scale_factor", path: path)
        try ConfigFile.require(freqShift, in: -1e6...1e6, "freq_shift", path: path)
        try ConfigFile.require(downsamplePadding, in: 0...8, "downsample_padding", path: path)
        for (key, k) in [("conv_in_kernel", convInKernel), ("conv_out_kernel", convOutKernel)] where k < 1 || k > 15 || k % 2 == 0 {
            throw fail("'\(key)' is \(k); it must be odd, 1 to 15")
        }
        if let s = sampleSize { try ConfigFile.require(s, in: 1...16384, "sample_size", path: path) }
        for (c, h) in zip(blockOutChannels, headsPerBlock) where h <= 0 || c % h != 0 {
            throw fail("block of \(c) channels does not split into \(h) attention heads")
        }
    }
}
