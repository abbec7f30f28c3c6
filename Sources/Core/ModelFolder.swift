import Foundation

/// File conventions of a diffusers model folder.
public enum ModelFolder {
    /// The safetensors weights of a component folder (`unet/`, `vae/`, `text_encoder/`):
    /// `diffusion_pytorch_model.safetensors` or `model.safetensors`, or the shards named by a
    /// `*.safetensors.index.json`.
    public static func weightsFiles(in folder: String) throws -> [String] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError(folder, "no such folder")
        }
        for name in ["diffusion_pytorch_model.safetensors", "model.safetensors"] where fm.fileExists(atPath: "\(folder)/\(name)") {
            return ["\(folder)/\(name)"]
        }
        let names = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
        if let index = names.first(where: { $0.hasSuffix(".safetensors.index.json") }) {
            let path = "\(folder)/\(index)"
            guard let data = fm.contents(atPath: path),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String]
            else { throw InputError(path, "not a safetensors index (no weight_map)") }
            return Set(map.values).sorted().map { "\(folder)/\($0)" }
        }
        let shards = names.filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !shards.isEmpty else {
            let legacy = names.contains { $0.hasSuffix(".bin") || $0.hasSuffix(".ckpt") }
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
