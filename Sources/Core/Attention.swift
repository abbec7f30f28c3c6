import CVectorKernels
/// diffusers' `Attention` processor (`models/attention_processor.py`) for self- and
/// cross-attention on tokens [B, L, C]: q/k/v projections, heads, `to_out.0`.
public struct Attention {
    var toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    var heads: Int
    /// The module's diffusers name (`…transformer_blocks.0.attn1`), under which a tape captures its output.
    public let name: String

    public init(_ store: ParameterStore, _ prefix: String, queryDim: Int, contextDim: Int?, heads: Int,
                headDim: Int, bias: Bool = false) throws {
        let inner = heads * headDim
        let ctx = contextDim ?? queryDim
        toQ = try Linear(store, "\(prefix).to_q", inFeatures: queryDim, outFeatures: inner, bias: bias)
        toK = try Linear(store, "\(prefix).to_k", inFeatures: ctx, outFeatures: inner, bias: bias)
        toV = try Linear(store, "\(prefix).to_v", inFeatures: ctx, outFeatures: inner, bias: bias)
        toOut = try Linear(store, "\(prefix).to_out.0", inFeatures: inner, outFeatures: queryDim)
        self.heads = heads
        name = prefix
    }

    /// Self-attention when `context` is nil, cross-attention otherwise.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil) -> Tensor {
        callAsFunction(Variable(x), context: context.map(Variable.init)).value
    }

    public func callAsFunction(_ x: Variable, context: Variable? = nil) -> Variable {
        let ctx = context?.sharingTape(with: x) ?? x
        return toOut(Variable.attention(query: toQ(x), key: toK(ctx), value: toV(ctx), heads: heads)).captured(as: name)
    }
}

/// diffusers' `BasicTransformerBlock` (`models/attention.py`) as Stable Diffusion uses it:
/// pre-LayerNorm self-attention, cross-attention and a GEGLU feed-forward, each residual.
public struct BasicTransformerBlock {
    var norm1: LayerNorm, attn1: Attention
    var norm2: LayerNorm, attn2: Attention
    var norm3: LayerNorm
    var geglu: Linear, ffOut: Linear

    public init(_ store: ParameterStore, _ prefix: String, dim: Int, heads: Int, headDim: Int, crossAttentionDim: Int) throws {
        norm1 = try LayerNorm(store, "\(prefix).norm1", dim: dim, eps: 1e-5)
        attn1 = try Attention(store, "\(prefix).attn1", queryDim: dim, contextDim: nil, heads: heads, headDim: headDim)
        norm2 = try LayerNorm(store, "\(prefix).norm2", dim: dim, eps: 1e-5)
        attn2 = try Attention(store, "\(prefix).attn2", queryDim: dim, contextDim: crossAttentionDim, heads: heads, headDim: headDim)
        norm3 = try LayerNorm(store, "\(prefix).norm3", dim: dim, eps: 1e-5)
        let inner = dim * 4
        geglu = try Linear(store, "\(prefix).ff.net.0.proj", inFeatures: dim, outFeatures: inner * 2)
        ffOut = try Linear(store, "\(prefix).ff.net.2", inFeatures: inner, outFeatures: dim)
    }

    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        callAsFunction(Variable(x), context: Variable(context)).value
    }

    public func callAsFunction(_ x: Variable, context: Variable) -> Variable {
        var h = x + attn1(norm1(x))
        h = h + attn2(norm2(h), context: context)
        return h + ffOut(geglu(norm3(h)).gatedGelu())
    }

    /// GEGLU: splits the last axis into (value, gate) halves and returns `value·gelu(gate)`.
    static func gatedGelu(_ x: Tensor) -> Tensor {
        Profiler.measure(.elementwise, flops: 0) {
            let two = x.shape[x.rank - 1], half = two / 2
            let rows = x.count / two
            var shape = x.shape
            shape[shape.count - 1] = half
            var out = Tensor(uninitialized: shape)
            x.storage.withUnsafeBufferPointer { src in
                out.storage.withUnsafeMutableBufferPointer { dst in
                    let s = src.baseAddress!, d = dst.baseAddress!
                    parallelChunks(rows, minimumChunk: max(1, 16384 / max(1, half))) { r in
                        csd_gated_gelu(s + r.lowerBound * two, d + r.lowerBound * half, r.count, half)
                    }
                }
            }
            return out
        }
    }
}

/// diffusers' `Transformer2DModel` for continuous inputs: GroupNorm, `proj_in` (1x1 conv or
/// linear per `use_linear_projection`), transformer blocks on tokens, `proj_out`, residual.
public struct Transformer2DModel {
    var norm: GroupNorm
    var projIn: TokenProjection, projOut: TokenProjection
    var blocks: [BasicTransformerBlock]
    /// The module's diffusers name (`up_blocks.1.attentions.0`), under which a tape captures its output.
    public let name: String

    public init(_ store: ParameterStore, _ prefix: String, channels: Int, heads: Int, layers: Int,
                crossAttentionDim: Int, groups: Int, useLinearProjection: Bool) throws {
        let headDim = channels / heads
        let inner = heads * headDim
        norm = try GroupNorm(store, "\(prefix).norm", channels: channels, groups: groups, eps: 1e-6)
        projIn = try TokenProjection(store, "\(prefix).proj_in", inFeatures: channels, outFeatures: inner, asConv: !useLinearProjection)
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(store, "\(prefix).transformer_blocks.\($0)", dim: inner, heads: heads,
                                      headDim: headDim, crossAttentionDim: crossAttentionDim)
        }
        projOut = try TokenProjection(store, "\(prefix).proj_out", inFeatures: inner, outFeatures: channels, asConv: !useLinearProjection)
        name = prefix
    }

    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        callAsFunction(Variable(x), context: Variable(context)).value
    }

    public func callAsFunction(_ x: Variable, context: Variable) -> Variable {
        let (h, w) = (x.shape[2], x.shape[3])
        var tokens = projIn(norm(x).channelsLast())
        for block in blocks { tokens = block(tokens, context: context) }
        return (projOut(tokens).channelsFirst(height: h, width: w) + x).captured(as: name)
    }
}
