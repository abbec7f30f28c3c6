import Foundation

extension TextToImageTraining {
    static let checkpointKind = "csd text-to-image training"

    /// Writes everything a resume needs (weights, EMA, AdamW's moments, the step, the losses so
    /// far and the settings) to `path` as one safetensors file, atomically.
    public func writeCheckpoint(to path: String) throws {
        var tensors = [String: Tensor]()
        for (name, p) in unet { tensors["unet/\(name)"] = p }
        for (name, p) in text { tensors["text/\(name)"] = p }
        for (name, p) in emaUNet { tensors["ema_unet/\(name)"] = p }
        for (name, p) in emaText { tensors["ema_text/\(name)"] = p }
        let (first, second) = optimizer.moments
        for (name, m) in first { tensors["adam_m/\(name)"] = m }
        for (name, v) in second { tensors["adam_v/\(name)"] = v }
        tensors["losses"] = Tensor(shape: [losses.count], storage: losses)
        let settingsJSON = String(decoding: try JSONEncoder.sorted.encode(settings), as: UTF8.self)
        let metadata = ["kind": Self.checkpointKind, "step": "\(step)", "optimizer_start": "\(optimizerStart)",
                        "adam_steps": "\(optimizer.steps)", "settings": settingsJSON, "data": "\(data.count)x\(data.size)"]
        try SafetensorsFile.write(tensors, metadata: metadata, to: path)
    }

    /// Continues the run that wrote `checkpoint`, which must have used the same settings and a
    /// shard of the same size; `folder` gives the model's configuration and tokenizer.
    public convenience init(resuming checkpoint: String, folder: String, data: CaptionedImages, settings: Settings) throws {
        let file = try SafetensorsFile(path: checkpoint)
        guard file.metadata["kind"] == Self.checkpointKind, let step = file.metadata["step"].flatMap(Int.init),
              let start = file.metadata["optimizer_start"].flatMap(Int.init), let adamSteps = file.metadata["adam_steps"].flatMap(Int.init),
              step >= start, adamSteps >= 0 else {
            throw InputError(checkpoint, "is not a checkpoint of `csd train prior`")
        }
        let settingsJSON = String(decoding: try JSONEncoder.sorted.encode(settings), as: UTF8.self)
        guard file.metadata["settings"] == settingsJSON else {
            throw InputError(checkpoint, "was written with other settings (\(file.metadata["settings"] ?? "none")); resume with the same options")
        }
        guard file.metadata["data"] == "\(data.count)x\(data.size)" else {
            throw InputError(checkpoint, "was written for a shard of \(file.metadata["data"] ?? "?") images, not \(data.count)x\(data.size)")
        }
        try self.init(folder: folder, data: data, settings: settings, startStep: start)
        func group(_ prefix: String, like reference: [String: Tensor]) throws -> [String: Tensor] {
            var out = [String: Tensor]()
            for (name, p) in reference {
                let t = try file.tensor("\(prefix)/\(name)")
                guard t.shape == p.shape else { throw InputError(checkpoint, "holds \(prefix)/\(name) of shape \(t.shape), not \(p.shape)") }
                out[name] = t
            }
            return out
        }
        unet = try group("unet", like: unet)
        text = try group("text", like: text)
        emaUNet = try group("ema_unet", like: emaUNet)
        emaText = try group("ema_text", like: emaText)
        var first = [String: Tensor](), second = [String: Tensor]()
        for name in file.entries.keys where name.hasPrefix("adam_m/") { first[String(name.dropFirst(7))] = try file.tensor(name) }
        for name in file.entries.keys where name.hasPrefix("adam_v/") { second[String(name.dropFirst(7))] = try file.tensor(name) }
        optimizer.restore(steps: adamSteps, first: first, second: second)
        losses = try file.tensor("losses").storage
        self.step = step
        guard losses.count == step - start else { throw InputError(checkpoint, "holds \(losses.count) losses for \(step - start) steps") }
    }

    /// Writes the EMA weights as a diffusers folder at `output`, with the configuration files,
    /// tokenizer and scheduler of `folder` and a `training.json`; the folder appears whole or not at all.
    public func export(from folder: String, to output: String) throws {
        try AtomicFile.checkDestination(output)
        let fm = FileManager.default
        let temporary = AtomicFile.temporaryPath(for: output)
        try? fm.removeItem(atPath: temporary)
        do {
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: false)
            for part in ["scheduler", "tokenizer"] { try fm.copyItem(atPath: "\(folder)/\(part)", toPath: "\(temporary)/\(part)") }
            try fm.copyItem(atPath: "\(folder)/model_index.json", toPath: "\(temporary)/model_index.json")
            for part in ["unet", "text_encoder"] {
                try fm.createDirectory(atPath: "\(temporary)/\(part)", withIntermediateDirectories: false)
                try fm.copyItem(atPath: "\(folder)/\(part)/config.json", toPath: "\(temporary)/\(part)/config.json")
            }
            try SafetensorsFile.write(emaUNet, metadata: ["format": "pt"], to: "\(temporary)/unet/diffusion_pytorch_model.safetensors")
            try SafetensorsFile.write(emaText, metadata: ["format": "pt"], to: "\(temporary)/text_encoder/model.safetensors")
            let recent = losses.suffix(50)
            let summary: [String: Any] = [
                "steps": step, "images_seen": step * settings.batch, "batch": settings.batch, "lr": settings.learningRate,
                "ema": settings.ema, "min_snr_gamma": settings.minSNRGamma, "caption_dropout": settings.captionDropout,
                "loss_mean_last_50": recent.isEmpty ? 0 : recent.reduce(0, +) / Float(recent.count),
                "renders": data.count, "trainer": "csd train prior",
            ]
            try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
                .write(to: URL(fileURLWithPath: "\(temporary)/training.json"))
        } catch {
            try? fm.removeItem(atPath: temporary)
            throw InputError(output, "cannot be written (\(AtomicFile.reason(error)))")
        }
        // Swap the finished folder into place; an older export of the same name goes only then.
        let previous = "\(temporary).previous"
        if fm.fileExists(atPath: output) { try? fm.removeItem(atPath: previous); try fm.moveItem(atPath: output, toPath: previous) }
        try AtomicFile.commit(temporary, to: output)
        try? fm.removeItem(atPath: previous)
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys, so equal values encode to equal bytes.
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
