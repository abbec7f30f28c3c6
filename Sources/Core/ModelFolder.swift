import Foundation

/// File conventions of a diffusers model folder.
public enum ModelFolder {
    /// The safetensors weights of a component folder (`unet/`, `vae/`, `text_encoder/`):
    /// `diffusion_pytorch_model.safetensors` or `model.safetensors`, or the shards named by a
    /// `*.safetensors.index.json`, or the shards themselves. With a `variant` ("fp16"), the files
    /// diffusers names for it (`diffusion_pytorch_model.fp16.safetensors`, `….safetensors.index.fp16.json`,
    /// `…-00001-of-00002.fp16.safetensors`), or the plain files where the folder has none of that
    /// variant. Without one, as diffusers does, the plain files; a
    /// folder that holds only one variant's files uses those, and one with several asks for `--variant`.
    public static func weightsFiles(in folder: String, variant: String? = nil) throws -> [String] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError(folder, "no such folder")
        }
        let names = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        let variants = Set(names.compactMap(variantName))
        let plain = names.filter { variantName($0) == nil }
        let hasPlain = plain.contains { $0.hasSuffix(".safetensors") }
        if let variant {
            // A component without that variant (a text encoder kept in fp32) loads its plain files, as diffusers does.
            if !variants.contains(variant) && hasPlain { return try files(in: folder, names: plain, indexSuffix: ".safetensors.index.json") }
            guard variants.contains(variant) else {
                let have = variants.isEmpty ? "none" : variants.sorted().joined(separator: ", ")
                throw InputError(folder, "holds no '\(variant)' weights (variants here: \(have))")
            }
            return try files(in: folder, names: names.filter { variantName($0) == variant }, indexSuffix: ".safetensors.index.\(variant).json")
        }
        if !hasPlain, variants.count > 1 {
            throw InputError(folder, "holds only variant weights (\(variants.sorted().joined(separator: ", "))); choose one with --variant")
        }
        if !hasPlain, let only = variants.first {
            return try weightsFiles(in: folder, variant: only)
        }
        return try files(in: folder, names: plain, indexSuffix: ".safetensors.index.json")
    }

    /// The variant a weights file belongs to (`fp16` of `model.fp16.safetensors`,
    /// `diffusion_pytorch_model-00001-of-00002.fp16.safetensors` or `….safetensors.index.fp16.json`), nil for a plain one.
    static func variantName(_ file: String) -> String? {
        for stem in ["diffusion_pytorch_model", "model"] where file.hasPrefix(stem) {
            var rest = Substring(file.dropFirst(stem.count))
            if rest.hasPrefix(".safetensors.index."), rest.hasSuffix(".json") {
                let v = rest.dropFirst(".safetensors.index.".count).dropLast(".json".count)
                return v.isEmpty || v.contains(".") ? nil : String(v)
            }
            guard rest.hasSuffix(".safetensors") else { return nil }
            rest = rest.dropLast(".safetensors".count)
            if rest.hasPrefix("-") { rest = rest.drop { $0 != "." } }   // a shard's -00001-of-00002
            guard rest.hasPrefix("."), rest.count > 1, !rest.dropFirst().contains(".") else { return nil }
            return String(rest.dropFirst())
        }
        return nil
    }

    /// The weights among `names`: one whole file, the shards an index names, or every shard.
    static func files(in folder: String, names: [String], indexSuffix: String) throws -> [String] {
        let fm = FileManager.default
        let whole = names.first { name in
            (name.hasPrefix("diffusion_pytorch_model.") || name.hasPrefix("model.")) && name.hasSuffix(".safetensors") && !name.contains("-of-")
        }
        if let whole { return ["\(folder)/\(whole)"] }
        if let index = names.first(where: { $0.hasSuffix(indexSuffix) }) {
            let path = "\(folder)/\(index)"
            guard let data = fm.contents(atPath: path),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String]
            else { throw InputError(path, "not a safetensors index (no weight_map)") }
            return Set(map.values).sorted().map { "\(folder)/\($0)" }
        }
        let shards = names.filter { $0.hasSuffix(".safetensors") }
        guard !shards.isEmpty else {
            let all = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
            let legacy = all.contains { $0.hasSuffix(".bin") || $0.hasSuffix(".ckpt") }
            throw InputError(folder, legacy
                ? "holds only PyTorch .bin/.ckpt weights; convert them to .safetensors"
                : "no .safetensors weights found")
        }
        return shards.map { "\(folder)/\($0)" }
    }

    /// The single weights file of a component folder.
    public static func weightsFile(in folder: String) throws -> String {
        let files = try weightsFiles(in: folder)
        return files[0]
    }
}
