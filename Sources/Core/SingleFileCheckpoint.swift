import Foundation

/// A Stable Diffusion 1.x or 2.x checkpoint in one `.safetensors` file with the original LDM key
/// names, as A1111 and ComfyUI users download them: `model.diffusion_model.…` (UNet),
/// `first_stage_model.…` (VAE) and `cond_stage_model.transformer.…` (SD 1.x, transformers' CLIP)
/// or `cond_stage_model.model.…` (SD 2.x, OpenCLIP).
///
/// Read as diffusers' `from_single_file` reads it (`diffusers/loaders/single_file_utils.py`:
/// `convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint`, `convert_ldm_clip_checkpoint`,
/// `convert_open_clip_checkpoint`): each component is a view of the file under diffusers' names,
/// and its config is inferred from the tensors' shapes where diffusers would fetch SD 1.5's or
/// SD 2.1's from the Hub. What shapes cannot tell follows those models: 8 attention heads in an SD
/// 1.x UNet, 64-wide heads in SD 2.x's and in either text encoder (at least one), 32 norm groups,
/// ε-prediction for SD 1.x and v-prediction for SD 2.x (diffusers' default without a `global_step`),
/// and the bundled CLIP vocabulary for the tokenizer.
public struct SingleFileCheckpoint {
    public enum Family: String, Sendable {
        case sd1 = "SD 1.x"
        case sd2 = "SD 2.x"
    }

    public let path: String
    public let family: Family
    /// Each component's weights under diffusers' names (views of the file's bytes, no copies).
    public let unet: SafetensorsFile
    public let vae: SafetensorsFile
    public let textEncoder: SafetensorsFile
    /// Each component's config with diffusers' keys, as `config.json` holds it.
    public let unetConfig: [String: Any]
    public let vaeConfig: [String: Any]
    public let textEncoderConfig: [String: Any]
    public let schedulerConfig: [String: Any]
    /// `tokenizer_config.json`: SD 2.x pads with "!", SD 1.x with the end token.
    public let tokenizerConfig: [String: Any]

    /// The CLIP BPE vocabulary bundled with the library (`vocab.json`, `merges.txt`).
    public static var bundledTokenizerFolder: String {
        Bundle.module.url(forResource: "clip-tokenizer", withExtension: nil)!.path
    }

    public init(path: String) throws {
        try self.init(file: SafetensorsFile(path: path))
    }

    /// The checkpoint in an open file.
    public init(file: SafetensorsFile) throws {
        let path = file.path
        self.path = path
        let names = Array(file.entries.keys)
        func has(_ prefix: String) -> Bool { names.contains { $0.hasPrefix(prefix) } }
        guard has(Self.unetPrefix) else {
            if names.contains(where: { $0.hasPrefix("lora_") || $0.contains(".lora_") || $0.contains("lora.down") }) {
                throw InputError(path, "holds LoRA weights, not a model; pass it with --lora, beside a --model")
            }
            throw InputError(path, "holds no '\(Self.unetPrefix)' tensors; not a Stable Diffusion single-file checkpoint")
        }
        if has("conditioner.embedders.") {
            throw InputError(path, "is an SDXL checkpoint (conditioner.embedders.…); single-file SDXL is not supported, use its diffusers folder")
        }
        if names.contains(where: { $0.hasPrefix(Self.unetPrefix + "label_emb.") }) {
            throw InputError(path, "has a class-conditioned UNet (label_emb: SDXL or an upscaler); only SD 1.x and 2.x text-to-image checkpoints are supported")
        }
        guard has(Self.vaePrefix) else {
            throw InputError(path, "holds no VAE ('\(Self.vaePrefix)…'); a checkpoint saved without its VAE needs a diffusers folder")
        }
        if has(Self.openCLIPPrefix) {
            family = .sd2
        } else if has(Self.clipPrefix) {
            family = .sd1
        } else {
            throw InputError(path, "holds no text encoder ('\(Self.clipPrefix)…' or '\(Self.openCLIPPrefix)…')")
        }

        let unetSlices = try Self.unetSlices(file)
        unet = try file.view(unetSlices)
        unetConfig = try Self.unetConfig(unet, family: family, path: path)
        let vaeSlices = try Self.vaeSlices(file)
        vae = try file.view(vaeSlices)
        vaeConfig = try Self.vaeConfig(vae, family: family, path: path)
        let textSlices = family == .sd1 ? Self.clipSlices(file) : try Self.openCLIPSlices(file)
        textEncoder = try file.view(textSlices)
        textEncoderConfig = try Self.textConfig(textEncoder, family: family, path: path)
        schedulerConfig = [
            "_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "clip_sample": false, "set_alpha_to_one": false, "steps_offset": 1,
            "timestep_spacing": "leading", "prediction_type": family == .sd1 ? "epsilon" : "v_prediction",
        ]
        tokenizerConfig = [
            "model_max_length": 77, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
            "pad_token": family == .sd1 ? "<|endoftext|>" : "!", "tokenizer_class": "CLIPTokenizer",
        ]
    }

    static let unetPrefix = "model.diffusion_model."
    static let vaePrefix = "first_stage_model."
    static let clipPrefix = "cond_stage_model.transformer."
    static let openCLIPPrefix = "cond_stage_model.model."

    // MARK: UNet

    /// `input_blocks`/`middle_block`/`output_blocks` to diffusers' down, mid and up blocks.
    static func unetSlices(_ file: SafetensorsFile) throws -> [String: SafetensorsFile.Slice] {
        let keys = file.entries.keys.filter { $0.hasPrefix(unetPrefix) }.map { String($0.dropFirst(unetPrefix.count)) }
        let inputIndices = Set(keys.compactMap { k -> Int? in
            let p = k.split(separator: ".")
            return p.count > 1 && p[0] == "input_blocks" ? Int(p[1]) : nil
        })
        let downsamplers = Set(keys.filter { $0.hasSuffix(".0.op.weight") && $0.hasPrefix("input_blocks.") }).count
        let levels = downsamplers + 1
        guard inputIndices.count >= levels, inputIndices.count % levels == 0 else {
            throw InputError(file.path, "its UNet has \(inputIndices.count) input blocks for \(levels) levels; not an SD UNet layout")
        }
        let perLevel = inputIndices.count / levels   // layers_per_block resnets, then a downsampler
        let resnet = ["in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
                      "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut"]
        func resnetName(_ rest: [Substring]) -> String {
            let joined = rest.joined(separator: ".")
            for (old, new) in resnet where joined.hasPrefix(old + ".") { return new + joined.dropFirst(old.count) }
            return joined
        }
        var slices = [String: SafetensorsFile.Slice]()
        for key in keys {
            let p = key.split(separator: ".")
            var name: String
            switch (p.first ?? "", p.count) {
            case ("time_embed", 3):
                name = (p[1] == "0" ? "time_embedding.linear_1." : "time_embedding.linear_2.") + p[2]
            case ("out", 3):
                name = (p[1] == "0" ? "conv_norm_out." : "conv_out.") + p[2]
            case ("input_blocks", 4...) where p[1] == "0":
                name = "conv_in." + p[3...].joined(separator: ".")
            case ("input_blocks", 4...):
                guard let k = Int(p[1]) else { name = key; break }
                let (level, j) = ((k - 1) / perLevel, (k - 1) % perLevel)
                if p[2] == "0", p[3] == "op" {
                    name = "down_blocks.\(level).downsamplers.0.conv." + p[4...].joined(separator: ".")
                } else if p[2] == "0" {
                    name = "down_blocks.\(level).resnets.\(j)." + resnetName(Array(p[3...]))
                } else {
                    name = "down_blocks.\(level).attentions.\(j)." + p[3...].joined(separator: ".")
                }
            case ("middle_block", 3...):
                switch p[1] {
                case "0": name = "mid_block.resnets.0." + resnetName(Array(p[2...]))
                case "2": name = "mid_block.resnets.1." + resnetName(Array(p[2...]))
                default: name = "mid_block.attentions.0." + p[2...].joined(separator: ".")
                }
            case ("output_blocks", 4...):
                guard let k = Int(p[1]) else { name = key; break }
                let (level, j) = (k / perLevel, k % perLevel)
                if p[2] == "0" {
                    name = "up_blocks.\(level).resnets.\(j)." + resnetName(Array(p[3...]))
                } else if p[3] == "conv" {
                    name = "up_blocks.\(level).upsamplers.0.conv." + p[4...].joined(separator: ".")
                } else {
                    name = "up_blocks.\(level).attentions.\(j)." + p[3...].joined(separator: ".")
                }
            default:
                name = key   // left as it is: the loader reports it as a weight no layer takes
            }
            let e = file.entries[unetPrefix + key]!
            slices[name] = .init(unetPrefix + key, shape: e.shape)
        }
        return slices
    }

    /// What a config is inferred from: a component's tensor shapes and numbered blocks, by diffusers' names.
    struct Shapes {
        let view: SafetensorsFile, component: String, path: String
        var names: [String] { Array(view.entries.keys) }

        /// The shape of the weight `name`, which must have two dimensions or more (the configs read both).
        func shape(_ name: String) throws -> [Int] {
            guard let e = view.entries[name] else { throw InputError(path, "its \(component) lacks \(name) (diffusers' name)") }
            guard e.shape.count >= 2 else { throw InputError(path, "its \(component) weight \(name) has shape \(e.shape); a weight has two dimensions or more") }
            return e.shape
        }

        /// How many distinct numbers follow `prefix` (the blocks `down_blocks.0`, `down_blocks.1`, …).
        func count(_ prefix: String) -> Int {
            Set(view.entries.keys.filter { $0.hasPrefix(prefix) }.compactMap { Int($0.dropFirst(prefix.count).prefix { $0 != "." }) }).count
        }
    }

    static func unetConfig(_ unet: SafetensorsFile, family: Family, path: String) throws -> [String: Any] {
        let shapes = Shapes(view: unet, component: "UNet", path: path)
        let names = shapes.names
        let (shape, count) = (shapes.shape, shapes.count)
        let levels = count("down_blocks.")
        let layers = count("down_blocks.0.resnets.")
        var channels = [Int]()
        for i in 0..<levels { channels.append(try shape("down_blocks.\(i).resnets.0.conv2.weight")[0]) }
        let down = (0..<levels).map { names.contains("down_blocks.\($0).attentions.0.proj_in.weight") ? "CrossAttnDownBlock2D" : "DownBlock2D" }
        let up = (0..<levels).map { names.contains("up_blocks.\($0).attentions.0.proj_in.weight") ? "CrossAttnUpBlock2D" : "UpBlock2D" }
        guard let attention = names.sorted().first(where: { $0.hasSuffix(".attn2.to_k.weight") }),
              let projIn = names.sorted().first(where: { $0.hasSuffix(".proj_in.weight") })
        else { throw InputError(path, "its UNet has no cross-attention; not a text-to-image SD UNet") }
        let block = String(projIn.dropLast("proj_in.weight".count))
        let depth = count(block + "transformer_blocks.")
        let inShape = try shape("conv_in.weight"), outShape = try shape("conv_out.weight")
        let heads: Any = family == .sd1 ? 8 : channels.map { max(1, $0 / 64) }
        return [
            "_class_name": "UNet2DConditionModel", "sample_size": family == .sd1 ? 64 : 96,
            "in_channels": inShape[1], "out_channels": outShape[0], "block_out_channels": channels,
            "down_block_types": down, "up_block_types": Array(up),
            "mid_block_type": names.contains("mid_block.attentions.0.proj_in.weight") ? "UNetMidBlock2DCrossAttn" : "UNetMidBlock2D",
            "layers_per_block": layers, "cross_attention_dim": try shape(attention)[1],
            "attention_head_dim": heads, "transformer_layers_per_block": max(1, depth),
            "use_linear_projection": try shape(projIn).count == 2, "norm_num_groups": 32, "norm_eps": 1e-5,
            "upcast_attention": family == .sd2,
        ]
    }

    // MARK: VAE

    static func vaeSlices(_ file: SafetensorsFile) throws -> [String: SafetensorsFile.Slice] {
        let keys = file.entries.keys.filter { $0.hasPrefix(vaePrefix) }.map { String($0.dropFirst(vaePrefix.count)) }
        let upLevels = Set(keys.compactMap { k -> Int? in
            let p = k.split(separator: ".")
            return p.count > 2 && p[0] == "decoder" && p[1] == "up" ? Int(p[2]) : nil
        }).count
        let attention = ["norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"]
        var slices = [String: SafetensorsFile.Slice]()
        for key in keys {
            let p = key.split(separator: ".").map(String.init)
            var name = key
            var shape = file.entries[vaePrefix + key]!.shape
            if p.count >= 6, p[1] == "down" || p[1] == "up", let i = Int(p[2]) {
                let level = p[1] == "down" ? i : upLevels - 1 - i
                let blocks = p[1] == "down" ? "down_blocks" : "up_blocks"
                if p[3] == "block" {
                    name = "\(p[0]).\(blocks).\(level).resnets.\(p[4])." + p[5...].joined(separator: ".")
                } else {   // downsample.conv.X / upsample.conv.X
                    name = "\(p[0]).\(blocks).\(level).\(p[1] == "down" ? "downsamplers" : "upsamplers").0." + p[4...].joined(separator: ".")
                }
            } else if p.count >= 4, p[1] == "mid", p[2] == "block_1" || p[2] == "block_2" {
                name = "\(p[0]).mid_block.resnets.\(p[2] == "block_1" ? 0 : 1)." + p[3...].joined(separator: ".")
            } else if p.count == 5, p[1] == "mid", p[2] == "attn_1", let leaf = attention[p[3]] {
                name = "\(p[0]).mid_block.attentions.0.\(leaf).\(p[4])"
                if shape.count == 4, shape[2] == 1, shape[3] == 1 { shape = Array(shape.prefix(2)) }   // LDM's 1×1 convolutions
            } else if p.count == 3, p[1] == "norm_out" {
                name = "\(p[0]).conv_norm_out.\(p[2])"
            }
            slices[name.replacingOccurrences(of: ".nin_shortcut.", with: ".conv_shortcut.")] = .init(vaePrefix + key, shape: shape)
        }
        return slices
    }

    static func vaeConfig(_ vae: SafetensorsFile, family: Family, path: String) throws -> [String: Any] {
        let shapes = Shapes(view: vae, component: "VAE", path: path)
        let (shape, count) = (shapes.shape, shapes.count)
        let levels = count("encoder.down_blocks.")
        var channels = [Int]()
        for i in 0..<levels { channels.append(try shape("encoder.down_blocks.\(i).resnets.0.conv2.weight")[0]) }
        return [
            "_class_name": "AutoencoderKL", "in_channels": try shape("encoder.conv_in.weight")[1],
            "out_channels": try shape("decoder.conv_out.weight")[0], "block_out_channels": channels,
            "down_block_types": Array(repeating: "DownEncoderBlock2D", count: levels),
            "up_block_types": Array(repeating: "UpDecoderBlock2D", count: levels),
            "layers_per_block": count("encoder.down_blocks.0.resnets."), "latent_channels": try shape("decoder.conv_in.weight")[1],
            "norm_num_groups": 32, "sample_size": family == .sd1 ? 512 : 768, "scaling_factor": 0.18215,
        ]
    }

    // MARK: Text encoder

    /// transformers' CLIP under `cond_stage_model.transformer.` (older files lack `text_model.`).
    static func clipSlices(_ file: SafetensorsFile) -> [String: SafetensorsFile.Slice] {
        var slices = [String: SafetensorsFile.Slice]()
        for (key, e) in file.entries where key.hasPrefix(clipPrefix) {
            let rest = String(key.dropFirst(clipPrefix.count))
            slices[rest.hasPrefix("text_model.") ? rest : "text_model." + rest] = .init(key, shape: e.shape)
        }
        return slices
    }

    /// OpenCLIP under `cond_stage_model.model.`: the fused `in_proj` split into q, k and v, and the
    /// last resblock dropped, since SD 2.x conditions on the penultimate layer (diffusers'
    /// `SD_2_TEXT_ENCODER_KEYS_TO_IGNORE`). The text projection and logit scale are not used.
    static func openCLIPSlices(_ file: SafetensorsFile) throws -> [String: SafetensorsFile.Slice] {
        let p = openCLIPPrefix
        let blocks = p + "transformer.resblocks."
        let indices = Set(file.entries.keys.filter { $0.hasPrefix(blocks) }.compactMap { Int($0.dropFirst(blocks.count).prefix { $0 != "." }) })
        guard let last = indices.max() else { throw InputError(file.path, "its OpenCLIP text encoder has no resblocks") }
        var slices = [String: SafetensorsFile.Slice]()
        let fixed = ["token_embedding.weight": "text_model.embeddings.token_embedding.weight",
                     "positional_embedding": "text_model.embeddings.position_embedding.weight",
                     "ln_final.weight": "text_model.final_layer_norm.weight", "ln_final.bias": "text_model.final_layer_norm.bias"]
        for (old, new) in fixed {
            if let e = file.entries[p + old] { slices[new] = .init(p + old, shape: e.shape) }
        }
        let leaves = ["ln_1.": "layer_norm1.", "ln_2.": "layer_norm2.", "mlp.c_fc.": "mlp.fc1.", "mlp.c_proj.": "mlp.fc2.",
                      "attn.out_proj.": "self_attn.out_proj."]
        for (key, e) in file.entries where key.hasPrefix(blocks) {
            let rest = key.dropFirst(blocks.count)
            guard let i = Int(rest.prefix { $0 != "." }), i != last else { continue }
            let leaf = String(rest.drop { $0 != "." }.dropFirst())
            let layer = "text_model.encoder.layers.\(i)."
            if leaf == "attn.in_proj_weight" || leaf == "attn.in_proj_bias" {
                guard (1...2).contains(e.shape.count), e.shape[0] % 3 == 0 else {
                    throw InputError(file.path, "tensor '\(key)' has shape \(e.shape); a fused q, k, v projection has 3·d rows")
                }
                let d = e.shape[0] / 3
                let width = e.shape.count == 2 ? e.shape[1] : 1
                for (j, q) in ["q", "k", "v"].enumerated() {
                    slices[layer + "self_attn.\(q)_proj." + (leaf.hasSuffix("weight") ? "weight" : "bias")] =
                        .init(key, elements: j * d * width ..< (j + 1) * d * width, shape: e.shape.count == 2 ? [d, width] : [d])
                }
            } else if let rename = leaves.first(where: { leaf.hasPrefix($0.key) }) {
                slices[layer + rename.value + leaf.dropFirst(rename.key.count)] = .init(key, shape: e.shape)
            } else {
                slices[layer + leaf] = .init(key, shape: e.shape)   // reported by the loader as unexpected
            }
        }
        return slices
    }

    static func textConfig(_ text: SafetensorsFile, family: Family, path: String) throws -> [String: Any] {
        let shapes = Shapes(view: text, component: "text encoder", path: path)
        let shape = shapes.shape
        let layers = shapes.count("text_model.encoder.layers.")
        let tokens = try shape("text_model.embeddings.token_embedding.weight")
        return [
            "architectures": ["CLIPTextModel"], "model_type": "clip_text_model",
            "vocab_size": tokens[0], "hidden_size": tokens[1], "num_attention_heads": max(1, tokens[1] / 64),
            "intermediate_size": try shape("text_model.encoder.layers.0.mlp.fc1.weight")[0], "num_hidden_layers": layers,
            "max_position_embeddings": try shape("text_model.embeddings.position_embedding.weight")[0],
            "hidden_act": family == .sd1 ? "quick_gelu" : "gelu", "layer_norm_eps": 1e-5,
            "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1,
        ]
    }
}
