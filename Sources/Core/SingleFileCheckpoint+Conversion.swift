import Foundation

extension SingleFileCheckpoint {
    /// Writes the checkpoint as a diffusers folder (`model_index.json`, `unet/`, `vae/`,
    /// `text_encoder/`, `tokenizer/`, `scheduler/`), each tensor in the dtype the file stores it.
    ///
    /// The folder is built beside `folder` under a temporary name and renamed into place when
    /// complete, so a failure or a kill leaves no half-written model; an existing `folder` is refused.
    public func writeDiffusersFolder(to folder: String) throws {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: folder) else { throw InputError(folder, "already exists; give a new folder to write the model into") }
        try AtomicFile.checkDestination(folder)
        AtomicFile.removeStrayTemporaries(of: folder)
        let temporary = AtomicFile.temporaryPath(for: folder)
        do {
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: false)
            func json(_ object: [String: Any], _ relative: String) throws {
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
                try fm.createDirectory(atPath: URL(fileURLWithPath: "\(temporary)/\(relative)").deletingLastPathComponent().path,
                                       withIntermediateDirectories: true)
                guard fm.createFile(atPath: "\(temporary)/\(relative)", contents: data + Data("\n".utf8)) else {
                    throw InputError("\(folder)/\(relative)", "cannot be written")
                }
            }
            func weights(_ view: SafetensorsFile, _ relative: String) throws {
                var raw = [String: SafetensorsFile.RawTensor]()
                for name in view.entries.keys { raw[name] = try view.rawTensor(name) }
                try SafetensorsFile.write(raw: raw, metadata: ["format": "pt"], to: "\(temporary)/\(relative)")
            }
            try json([
                "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
                "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDIMScheduler"],
                "safety_checker": [NSNull(), NSNull()], "feature_extractor": [NSNull(), NSNull()], "requires_safety_checker": false,
            ], "model_index.json")
            try json(unetConfig, "unet/config.json")
            try weights(unet, "unet/diffusion_pytorch_model.safetensors")
            try json(vaeConfig, "vae/config.json")
            try weights(vae, "vae/diffusion_pytorch_model.safetensors")
            try json(textEncoderConfig, "text_encoder/config.json")
            try weights(textEncoder, "text_encoder/model.safetensors")
            try json(schedulerConfig, "scheduler/scheduler_config.json")
            try json(tokenizerConfig, "tokenizer/tokenizer_config.json")
            for name in ["vocab.json", "merges.txt"] {
                try fm.copyItem(atPath: "\(Self.bundledTokenizerFolder)/\(name)", toPath: "\(temporary)/tokenizer/\(name)")
            }
            try fm.moveItem(atPath: temporary, toPath: folder)
        } catch {
            try? fm.removeItem(atPath: temporary)
            throw error as? InputError ?? InputError(folder, "cannot be written (\(AtomicFile.reason(error)))")
        }
    }
}
