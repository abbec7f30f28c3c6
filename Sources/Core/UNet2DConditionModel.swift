import Foundation

/// diffusers' `UNet2DConditionModel` (`models/unets/unet_2d_condition.py`): predicts the noise
/// (or v) in `x_t` given the timestep and text hidden states.
public struct UNet2DConditionModel {
    public let configuration: UNet2DConditionModelConfiguration
    var timeLinear1: Linear, timeLinear2: Linear
    var classLinear1: Linear?, classLinear2: Linear?
    var convIn: Conv2d
    var downBlocks: [UNetDownBlock]
    var midBlock: UNetMidBlock?
    var upBlocks: [UNetUpBlock]
    var normOut: GroupNorm, convOut: Conv2d

    /// Builds the model described by `configuration` from `store`; fails on missing, extra or
    /// misshapen parameters. `configPath` names the config in error messages.
    public init(configuration c: UNet2DConditionModelConfiguration, store: ParameterStore, configPath: String = "unet/config.json") throws {
        try c.validate(path: configPath)
        configuration = c
        let n = c.blockOutChannels.count
        let heads = c.headsPerBlock
        let layers = c.layersPerBlock.perBlock(n)
        let transformerLayers = c.transformerLayersPerBlock.perBlock(n)
        let ch0 = c.blockOutChannels[0]
        let timeDim = ch0 * 4
        let groups = c.normNumGroups, eps = c.normEps

        timeLinear1 = try Linear(store, "time_embedding.linear_1", inFeatures: ch0, outFeatures: timeDim)
        timeLinear2 = try Linear(store, "time_embedding.linear_2", inFeatures: timeDim, outFeatures: timeDim)
        // class_embed_type "projection" (pooled text) and SDXL's addition_embed_type "text_time"
        // (pooled text beside the time ids) are the same two layers under two names.
        if let dim = c.projectionClassEmbeddingsInputDim, c.classEmbedType == "projection" || c.additionEmbedType == "text_time" {
            let name = c.additionEmbedType == "text_time" ? "add_embedding" : "class_embedding"
            classLinear1 = try Linear(store, "\(name).linear_1", inFeatures: dim, outFeatures: timeDim)
            classLinear2 = try Linear(store, "\(name).linear_2", inFeatures: timeDim, outFeatures: timeDim)
        }
        convIn = try Conv2d(store, "conv_in", inChannels: c.inChannels, outChannels: ch0, kernel: c.convInKernel)

        func transformer(_ prefix: String, _ channels: Int, _ heads: Int, _ layers: Int) throws -> Transformer2DModel {
            try Transformer2DModel(store, prefix, channels: channels, heads: heads, layers: layers,
                                   crossAttentionDim: c.crossAttentionDim, groups: groups,
                                   useLinearProjection: c.useLinearProjection)
        }

        var down = [UNetDownBlock]()
        var outChannels = ch0
        for (i, type) in c.downBlockTypes.enumerated() {
            let inChannels = outChannels
            outChannels = c.blockOutChannels[i]
            let cross = type == "CrossAttnDownBlock2D"
            var blockLayers = [ResnetAttentionLayer]()
            for j in 0..<layers[i] {
                let p = "down_blocks.\(i)"
                let resnet = try ResnetBlock2D(store, "\(p).resnets.\(j)", inChannels: j == 0 ? inChannels : outChannels,
                                               outChannels: outChannels, timeChannels: timeDim, groups: groups, eps: eps)
                let attention = cross ? try transformer("\(p).attentions.\(j)", outChannels, heads[i], transformerLayers[i]) : nil
                blockLayers.append(ResnetAttentionLayer(resnet: resnet, attention: attention))
            }
            let downsampler = i < n - 1
                ? try Conv2d(store, "down_blocks.\(i).downsamplers.0.conv", inChannels: outChannels, outChannels: outChannels,
                             kernel: 3, stride: 2, padding: .uniform(c.downsamplePadding))
                : nil
            down.append(UNetDownBlock(layers: blockLayers, downsampler: downsampler))
        }
        downBlocks = down

        let midChannels = c.blockOutChannels[n - 1]
        if c.midBlockType != nil {
            let first = try ResnetBlock2D(store, "mid_block.resnets.0", inChannels: midChannels, outChannels: midChannels,
                                          timeChannels: timeDim, groups: groups, eps: eps, outputScaleFactor: c.midBlockScaleFactor)
            let attention = try transformer("mid_block.attentions.0", midChannels, heads[n - 1], transformerLayers[n - 1])
            let second = try ResnetBlock2D(store, "mid_block.resnets.1", inChannels: midChannels, outChannels: midChannels,
                                           timeChannels: timeDim, groups: groups, eps: eps, outputScaleFactor: c.midBlockScaleFactor)
            midBlock = UNetMidBlock(first: first, rest: [ResnetAttentionLayer(resnet: second, attention: attention)])
        }

        let reversedChannels = Array(c.blockOutChannels.reversed())
        let reversedHeads = Array(heads.reversed())
        let reversedLayers = Array(layers.reversed())
        let reversedTransformerLayers = Array(transformerLayers.reversed())
        var up = [UNetUpBlock]()
        var output = reversedChannels[0]
        for (i, type) in c.upBlockTypes.enumerated() {
            let previous = output
            output = reversedChannels[i]
            let input = reversedChannels[min(i + 1, n - 1)]
            let cross = type == "CrossAttnUpBlock2D"
            let count = reversedLayers[i] + 1
            var blockLayers = [ResnetAttentionLayer]()
            for j in 0..<count {
                let p = "up_blocks.\(i)"
                let skipChannels = j == count - 1 ? input : output
                let resnetIn = j == 0 ? previous : output
                let resnet = try ResnetBlock2D(store, "\(p).resnets.\(j)", inChannels: resnetIn + skipChannels,
                                               outChannels: output, timeChannels: timeDim, groups: groups, eps: eps)
                let attention = cross ? try transformer("\(p).attentions.\(j)", output, reversedHeads[i], reversedTransformerLayers[i]) : nil
                blockLayers.append(ResnetAttentionLayer(resnet: resnet, attention: attention))
            }
            let upsampler = i < n - 1
                ? try Conv2d(store, "up_blocks.\(i).upsamplers.0.conv", inChannels: output, outChannels: output, kernel: 3)
                : nil
            up.append(UNetUpBlock(layers: blockLayers, upsampler: upsampler))
        }
        upBlocks = up
        normOut = try GroupNorm(store, "conv_norm_out", channels: ch0, groups: groups, eps: eps)
        convOut = try Conv2d(store, "conv_out", inChannels: ch0, outChannels: c.outChannels, kernel: c.convOutKernel)
        try store.finish()
    }

    /// Loads `unet/` of a diffusers folder: `config.json` and its safetensors weights, with `loras` merged in.
    public init(folder: String, variant: String? = nil, loras: [LoRA] = []) throws {
        let configPath = "\(folder)/config.json"
        let configuration = try ConfigFile.decode(UNet2DConditionModelConfiguration.self, from: configPath)
        let store = try ParameterStore(paths: try ModelFolder.weightsFiles(in: folder, variant: variant))
        store.loras = loras.map { ($0, .unet) }
        try self.init(configuration: configuration, store: store, configPath: configPath)
    }

    /// The noise (or v) prediction for `sample` [N, C, H, W] at `timesteps` (one per item),
    /// given `encoderHiddenStates` [N, L, D] and, for `class_embed_type: projection`, the
    /// pooled text vectors `classLabels` [N, P] (for `addition_embed_type: text_time`, SDXL, the
    /// pooled text followed by the six time ids: [N, P + 6]).
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], encoderHiddenStates context: Tensor,
                               classLabels: Tensor? = nil) -> Tensor {
        callAsFunction(Variable(sample), timesteps: timesteps, encoderHiddenStates: Variable(context),
                       classLabels: classLabels.map(Variable.init)).value
    }

    /// The prediction on variables: differentiable in the sample, the text states, the pooled
    /// text and the parameters that the variables' tape selects.
    public func callAsFunction(_ sample: Variable, timesteps: [Float], encoderHiddenStates context: Variable,
                               classLabels: Variable? = nil) -> Variable {
        let c = configuration
        let batch = sample.shape[0]
        precondition(timesteps.count == batch, "UNet: \(timesteps.count) timesteps for a batch of \(batch)")
        let anchor = [sample, context, classLabels].compactMap { $0 }.first { $0.tape != nil } ?? sample
        let sample = sample.sharingTape(with: anchor), context = context.sharingTape(with: anchor)
        let features = anchor.constant(SinusoidalEmbedding.timesteps(timesteps, dim: c.blockOutChannels[0], flipSinToCos: c.flipSinToCos,
                                                                     downscaleFreqShift: c.freqShift))
        var embedding = timeLinear2(timeLinear1(features).silu())
        if let l1 = classLinear1, let l2 = classLinear2 {
            precondition(classLabels != nil, "UNet: this model needs pooled text (class_embed_type projection or addition_embed_type text_time)")
            var labels = classLabels!.sharingTape(with: anchor)
            if c.additionEmbedType == "text_time", let timeDim = c.additionTimeEmbedDim {
                // SDXL: [pooled text, the six time ids] → [pooled text, each id's sinusoidal embedding] (`add_time_proj`).
                let width = labels.shape[1] - 6
                let ids = labels.value.channels(width..<(width + 6)).storage
                let idFeatures = SinusoidalEmbedding.timesteps(ids, dim: timeDim, flipSinToCos: c.flipSinToCos, downscaleFreqShift: c.freqShift)
                labels = Variable.concatenateChannels(labels.channels(0..<width), anchor.constant(idFeatures.reshaped([batch, 6 * timeDim])))
            }
            embedding = embedding + l2(l1(labels).silu())
        }
        let time = embedding.silu()

        var h = c.centerInputSample ? sample.affine(scale: 2, shift: -1) : sample
        h = convIn(h)
        var skips = [h]
        for block in downBlocks {
            let (out, s) = block(h, time: time, context: context)
            h = out
            skips += s
        }
        if let mid = midBlock { h = mid(h, time: time, context: context) }
        for block in upBlocks {
            let remaining = skips.count - block.layers.count
            let target = remaining > 0 ? (skips[remaining - 1].shape[2], skips[remaining - 1].shape[3]) : nil
            h = block(h, skips: &skips, time: time, context: context, upsampleTo: target)
        }
        return convOut(normOut(h, thenSiLU: true))
    }
}
