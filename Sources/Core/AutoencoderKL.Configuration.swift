/// `vae/config.json` (`diffusers/models/autoencoders/autoencoder_kl.py`).
public struct AutoencoderKLConfiguration: Codable, Equatable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var actFn: String
    public var latentChannels: Int
    public var normNumGroups: Int
    public var sampleSize: Int?
    public var scalingFactor: Float
    public var shiftFactor: Float?
    public var midBlockAddAttention: Bool
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels"
        case downBlockTypes = "down_block_types", upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block", actFn = "act_fn"
        case latentChannels = "latent_channels", normNumGroups = "norm_num_groups", sampleSize = "sample_size"
        case scalingFactor = "scaling_factor", shiftFactor = "shift_factor"
        case midBlockAddAttention = "mid_block_add_attention"
        case useQuantConv = "use_quant_conv", usePostQuantConv = "use_post_quant_conv"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.value(.inChannels, or: 3)
        outChannels = try c.value(.outChannels, or: 3)
        downBlockTypes = try c.value(.downBlockTypes, or: ["DownEncoderBlock2D"])
        upBlockTypes = try c.value(.upBlockTypes, or: ["UpDecoderBlock2D"])
        blockOutChannels = try c.value(.blockOutChannels, or: [64])
        layersPerBlock = try c.value(.layersPerBlock, or: 1)
        actFn = try c.value(.actFn, or: "silu")
        latentChannels = try c.value(.latentChannels, or: 4)
        normNumGroups = try c.value(.normNumGroups, or: 32)
        sampleSize = try c.decodeIfPresent(Int.self, forKey: .sampleSize)
        scalingFactor = try c.value(.scalingFactor, or: 0.18215)
        shiftFactor = try c.decodeIfPresent(Float.self, forKey: .shiftFactor)
        midBlockAddAttention = try c.value(.midBlockAddAttention, or: true)
        useQuantConv = try c.value(.useQuantConv, or: true)
        usePostQuantConv = try c.value(.usePostQuantConv, or: true)
    }

    public func validate(path: String) throws {
        for t in downBlockTypes where t != "DownEncoderBlock2D" {
            throw InputError(path, "unsupported block type '\(t)' in down_block_types (supported: DownEncoderBlock2D)")
        }
        for t in upBlockTypes where t != "UpDecoderBlock2D" {
            throw InputError(path, "unsupported block type '\(t)' in up_block_types (supported: UpDecoderBlock2D)")
        }
        guard downBlockTypes.count == blockOutChannels.count, upBlockTypes.count == blockOutChannels.count else {
            throw InputError(path, "down_block_types and up_block_types need one entry per block_out_channels")
        }
        guard actFn == "silu" || actFn == "swish" else { throw InputError(path, "unsupported act_fn '\(actFn)' (supported: silu)") }
        let channels = 1...16384
        guard !blockOutChannels.isEmpty else { throw InputError(path, "'block_out_channels' is empty") }
        try ConfigFile.require(inChannels, in: channels, "in_channels", path: path)
        try ConfigFile.require(outChannels, in: channels, "out_channels", path: path)
        try ConfigFile.require(latentChannels, in: channels, "latent_channels", path: path)
        try ConfigFile.require(blockOutChannels, in: channels, "block_out_channels", path: path)
        try ConfigFile.require(layersPerBlock, in: 1...64, "layers_per_block", path: path)
        try ConfigFile.require(normNumGroups, in: 1...16384, "norm_num_groups", path: path)
        for c in blockOutChannels where c % normNumGroups != 0 {
            throw InputError(path, "block of \(c) channels does not split into \(normNumGroups) groups (norm_num_groups)")
        }
        guard scalingFactor.isFinite, abs(scalingFactor) >= 1e-6 else { throw InputError(path, "'scaling_factor' is \(scalingFactor); it must be finite and not 0") }
        if let s = shiftFactor, !s.isFinite { throw InputError(path, "'shift_factor' is \(s); it must be finite") }
        if let s = sampleSize { try ConfigFile.require(s, in: 1...65536, "sample_size", path: path) }
    }
}
