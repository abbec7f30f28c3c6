/// `text_encoder/config.json` (transformers' `CLIPTextConfig`).
public struct CLIPTextModelConfiguration: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    public var hiddenAct: String
    public var layerNormEps: Float
    public var eosTokenId: Int
    public var bosTokenId: Int
    public var padTokenId: Int
    /// Width of `text_projection` in a `CLIPTextModelWithProjection`.
    public var projectionDim: Int

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
        case eosTokenId = "eos_token_id", bosTokenId = "bos_token_id", padTokenId = "pad_token_id", projectionDim = "projection_dim"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.value(.vocabSize, or: 49408)
        hiddenSize = try c.value(.hiddenSize, or: 512)
        intermediateSize = try c.value(.intermediateSize, or: 2048)
        numHiddenLayers = try c.value(.numHiddenLayers, or: 12)
        numAttentionHeads = try c.value(.numAttentionHeads, or: 8)
        maxPositionEmbeddings = try c.value(.maxPositionEmbeddings, or: 77)
        hiddenAct = try c.value(.hiddenAct, or: "quick_gelu")
        layerNormEps = try c.value(.layerNormEps, or: 1e-5)
        eosTokenId = try c.value(.eosTokenId, or: 49407)
        bosTokenId = try c.value(.bosTokenId, or: 49406)
        padTokenId = try c.value(.padTokenId, or: 1)
        projectionDim = try c.value(.projectionDim, or: 512)
    }

    public func validate(path: String) throws {
        guard ["quick_gelu", "gelu", "gelu_pytorch_tanh"].contains(hiddenAct) else {
            throw InputError(path, "unsupported hidden_act '\(hiddenAct)' (supported: quick_gelu, gelu, gelu_pytorch_tanh)")
        }
        try ConfigFile.require(vocabSize, in: 1...10_000_000, "vocab_size", path: path)
        try ConfigFile.require(hiddenSize, in: 1...65536, "hidden_size", path: path)
        try ConfigFile.require(intermediateSize, in: 1...262_144, "intermediate_size", path: path)
        try ConfigFile.require(numHiddenLayers, in: 0...256, "num_hidden_layers", path: path)
        try ConfigFile.require(maxPositionEmbeddings, in: 1...65536, "max_position_embeddings", path: path)
        try ConfigFile.require(layerNormEps, in: Float.leastNormalMagnitude...1, "layer_norm_eps", path: path)
        try ConfigFile.require(projectionDim, in: 1...65536, "projection_dim", path: path)
        for (key, id) in [("eos_token_id", eosTokenId), ("bos_token_id", bosTokenId)] {
            try ConfigFile.require(id, in: 0...(vocabSize - 1), key, path: path)
        }
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw InputError(path, "hidden_size \(hiddenSize) does not split into \(numAttentionHeads) heads")
        }
    }
}
