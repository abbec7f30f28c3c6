/// transformers' `CLIPTextModel` (`models/clip/modeling_clip.py`): token + position embeddings,
/// pre-LayerNorm transformer layers with a causal mask, final layer norm; with the weights of a
/// `CLIPTextModelWithProjection` (`text_projection.weight`, SDXL's second encoder), also the
/// projected pooled state.
public struct CLIPTextModel {
    struct Layer {
        var norm1: LayerNorm, q: Linear, k: Linear, v: Linear, out: Linear
        var norm2: LayerNorm, fc1: Linear, fc2: Linear
    }

    /// The encoder's outputs: per-token states and the pooled state at the end-of-text token.
    public struct Output {
        /// [N, L, hidden]
        public var lastHiddenState: Tensor
        /// [N, hidden]
        public var pooled: Tensor
        /// [N, L, hidden]: the input of the last layer (`hidden_states[-2]`, no final norm), which SDXL conditions on.
        public var penultimateHiddenState: Tensor
        /// [N, projection_dim]: `text_projection(pooled)`, for a model with a projection.
        public var textEmbeds: Tensor?
    }

    public let configuration: CLIPTextModelConfiguration
    var tokenEmbedding: Tensor, positionEmbedding: Tensor
    /// `text_model.` when the weights carry it (transformers 4.x), else empty.
    let prefix: String
    var layers: [Layer]
    var finalNorm: LayerNorm
    /// `text_projection` (no bias) of a `CLIPTextModelWithProjection`.
    var textProjection: Linear?

    public init(configuration c: CLIPTextModelConfiguration, store: ParameterStore, configPath: String = "text_encoder/config.json") throws {
        try c.validate(path: configPath)
        configuration = c
        let d = c.hiddenSize, eps = c.layerNormEps
        // transformers 4.x saves names under `text_model.`; 5.x saves them without it.
        let p = store.contains("text_model.embeddings.token_embedding.weight") ? "text_model." : ""
        prefix = p
        tokenEmbedding = try store.tensor("\(p)embeddings.token_embedding.weight", shape: [c.vocabSize, d])
        positionEmbedding = try store.tensor("\(p)embeddings.position_embedding.weight", shape: [c.maxPositionEmbeddings, d])
        layers = try (0..<c.numHiddenLayers).map { i in
            let l = "\(p)encoder.layers.\(i)"
            return Layer(
                norm1: try LayerNorm(store, "\(l).layer_norm1", dim: d, eps: eps),
                q: try Linear(store, "\(l).self_attn.q_proj", inFeatures: d, outFeatures: d),
                k: try Linear(store, "\(l).self_attn.k_proj", inFeatures: d, outFeatures: d),
                v: try Linear(store, "\(l).self_attn.v_proj", inFeatures: d, outFeatures: d),
                out: try Linear(store, "\(l).self_attn.out_proj", inFeatures: d, outFeatures: d),
                norm2: try LayerNorm(store, "\(l).layer_norm2", dim: d, eps: eps),
                fc1: try Linear(store, "\(l).mlp.fc1", inFeatures: d, outFeatures: c.intermediateSize),
                fc2: try Linear(store, "\(l).mlp.fc2", inFeatures: c.intermediateSize, outFeatures: d))
        }
        finalNorm = try LayerNorm(store, "\(p)final_layer_norm", dim: d, eps: eps)
        textProjection = store.contains("text_projection.weight")
            ? try Linear(store, "text_projection", inFeatures: d, outFeatures: c.projectionDim, bias: false) : nil
        // position_ids is a buffer some checkpoints carry (I64 from older transformers); the model
        // reads positions 0..<n, so any other values would be a different model.
        if let (ids, path) = try store.optionalBuffer("\(p)embeddings.position_ids", shape: [1, c.maxPositionEmbeddings]),
           let wrong = ids.storage.indices.first(where: { ids.storage[$0] != Float($0) }) {
            throw InputError(path, "buffer '\(p)embeddings.position_ids' holds \(ids.storage[wrong]) at position \(wrong); expected 0..<\(c.maxPositionEmbeddings)")
        }
        try store.finish()
    }

    /// Loads `text_encoder/` of a diffusers folder, with `loras` merged in.
    public init(folder: String, variant: String? = nil, loras: [LoRA] = []) throws {
        let configPath = "\(folder)/config.json"
        let configuration = try ConfigFile.decode(CLIPTextModelConfiguration.self, from: configPath)
        let store = try ParameterStore(paths: try ModelFolder.weightsFiles(in: folder, variant: variant))
        store.loras = loras.map { ($0, .textEncoder) }
        try self.init(configuration: configuration, store: store, configPath: configPath)
    }

    func activation(_ x: Variable) -> Variable {
        switch configuration.hiddenAct {
        case "gelu": return x.gelu()
        case "gelu_pytorch_tanh": return x.geluTanh()
        default: return x.quickGelu()
        }
    }

    /// Encodes token ids [N][L] (all the same length, at most `max_position_embeddings`).
    public func callAsFunction(_ ids: [[Int]]) -> Output {
        let out = callAsFunction(ids, tape: nil)
        return Output(lastHiddenState: out.lastHiddenState.value, pooled: out.pooled.value,
                      penultimateHiddenState: out.penultimate.value, textEmbeds: out.textEmbeds?.value)
    }

    /// `callAsFunction(ids)` on `tape` (when given): the outputs as variables, differentiable in
    /// the parameters the tape selects (the embedding tables among them).
    public func callAsFunction(_ ids: [[Int]], tape: GradientTape?)
        -> (lastHiddenState: Variable, pooled: Variable, penultimate: Variable, textEmbeds: Variable?) {
        let c = configuration, d = c.hiddenSize
        let n = ids.count, length = ids[0].count
        precondition(length <= c.maxPositionEmbeddings, "CLIPTextModel: \(length) tokens exceed \(c.maxPositionEmbeddings)")
        for row in ids { precondition(row.count == length, "CLIPTextModel: token rows differ in length") }
        let anchor = tape.map { $0.constant(Tensor(zeros: [0])) } ?? Variable(Tensor(zeros: [0]))
        let tokens = anchor.parameter("\(prefix)embeddings.token_embedding.weight", tokenEmbedding).gatheringRows(ids.flatMap { $0 })
        let positions = anchor.parameter("\(prefix)embeddings.position_embedding.weight", positionEmbedding)
            .gatheringRows((0..<n).flatMap { _ in 0..<length })
        var h = (tokens + positions).reshaped([n, length, d])
        var penultimate = h
        for layer in layers {
            penultimate = h
            let x = layer.norm1(h)
            h = h + layer.out(Variable.attention(query: layer.q(x), key: layer.k(x), value: layer.v(x),
                                                 heads: c.numAttentionHeads, causal: true))
            h = h + layer.fc2(activation(layer.fc1(layer.norm2(h))))
        }
        let last = finalNorm(h)
        let positionsPooled = ids.enumerated().map { b, row in
            // transformers: legacy configs (eos_token_id 2) pool at the largest id, others at the first eos.
            let position = c.eosTokenId == 2
                ? row.indices.max { row[$0] < row[$1] }!
                : (row.firstIndex(of: c.eosTokenId) ?? 0)
            return b * length + position
        }
        let pooled = last.reshaped([n * length, d]).gatheringRows(positionsPooled)
        return (last, pooled, penultimate, textProjection.map { $0(pooled) })
    }
}
