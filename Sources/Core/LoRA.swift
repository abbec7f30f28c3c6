import Foundation

/// A LoRA file merged into a model's weights as they load: `W += scale · (alpha / rank) · up · down`,
/// as diffusers' `fuse_lora` merges it (convolutions too: a k×k `down` and a 1×1 `up`, LoCon).
///
/// Names, as diffusers' `load_lora_weights` reads them:
/// - kohya/sd-scripts: `lora_unet_<module path with _>.lora_down.weight`, `.lora_up.weight`,
///   `.alpha` (without it, alpha = rank); `lora_te_…` for the text encoder;
/// - diffusers/PEFT: `unet.<module>.lora_A.weight` (down), `.lora_B.weight` (up),
///   `text_encoder.<module>.…`, alpha = rank;
/// - diffusers' older attention-processor names: `unet.<block>.processor.to_q_lora.down.weight`, ….
///
/// Every module of the file must meet a weight of the model it is loaded with
/// (`DiffusionModel` checks after loading), so a LoRA made for another model is an error.
public final class LoRA {
    public enum Component: String { case unet, textEncoder = "text encoder" }

    public let path: String
    public let scale: Float
    let file: SafetensorsFile
    /// Each module's factors, keyed by component and diffusers module path.
    let modules: [Component: [String: (down: String, up: String, alpha: Float?)]]
    /// Modules merged so far, by component.
    private(set) var merged: [Component: Set<String>] = [:]

    /// `FILE.safetensors[:scale]`, as `--lora` takes it (scale 1 when none is given).
    public convenience init(argument: String) throws {
        if let colon = argument.lastIndex(of: ":"), let scale = Float(argument[argument.index(after: colon)...]) {
            try self.init(path: String(argument[..<colon]), scale: scale)
        } else {
            try self.init(path: argument, scale: 1)
        }
    }

    public convenience init(path: String, scale: Float) throws {
        guard scale.isFinite, abs(scale) <= 100 else { throw InputError("--lora", "scale \(scale) for \(path) must be a number within ±100") }
        try self.init(file: SafetensorsFile(path: path), scale: scale)
    }

    /// The LoRA in an open file.
    public init(file: SafetensorsFile, scale: Float) throws {
        self.path = file.path
        self.scale = scale
        self.file = file
        var modules = [Component: [String: (down: String, up: String, alpha: Float?)]]()
        var alphas = [String: Float]()
        for name in file.entries.keys where name.hasSuffix(".alpha") {
            alphas[String(name.dropLast(".alpha".count))] = try file.tensor(name).storage.first
        }
        for name in file.entries.keys {
            for (downSuffix, upSuffix) in [(".lora_down.weight", ".lora_up.weight"), (".lora_A.weight", ".lora_B.weight"),
                                           (".down.weight", ".up.weight")] where name.hasSuffix(downSuffix) {
                let stem = String(name.dropLast(downSuffix.count))
                guard file.entries[stem + upSuffix] != nil else { throw InputError(path, "'\(name)' has no '\(stem + upSuffix)'") }
                guard let (component, module) = Self.target(stem) else {
                    if stem.hasPrefix("lora_te1_") || stem.hasPrefix("lora_te2_") || stem.hasPrefix("text_encoder_2.") {
                        throw InputError(path, "is an SDXL LoRA (two text encoders); it does not fit an SD 1.x/2.x model")
                    }
                    throw InputError(path, "tensor '\(name)' names no UNet or text-encoder module (kohya lora_unet_/lora_te_ or diffusers unet./text_encoder.)")
                }
                modules[component, default: [:]][module] = (name, stem + upSuffix, alphas[stem])
            }
        }
        guard !modules.isEmpty else { throw InputError(path, "holds no LoRA factors (lora_down/lora_up or lora_A/lora_B)") }
        self.modules = modules
    }

    /// The component and module a factor's stem names: kohya's underscored path as it stands
    /// (matched against the model's names when they load), diffusers' dotted path normalised;
    /// text-encoder modules without transformers' `text_model.`.
    static func target(_ stem: String) -> (Component, String)? {
        for (prefix, component) in [("lora_unet_", Component.unet), ("lora_te_", .textEncoder)] where stem.hasPrefix(prefix) {
            let module = String(stem.dropFirst(prefix.count))
            return (component, module.hasPrefix("text_model_") ? String(module.dropFirst("text_model_".count)) : module)
        }
        for (prefix, component) in [("unet.", Component.unet), ("text_encoder.", .textEncoder)] where stem.hasPrefix(prefix) {
            var module = String(stem.dropFirst(prefix.count))
            // Older diffusers attention processors: <block>.processor.to_q_lora → <block>.to_q (q_proj in CLIP).
            module = module.replacingOccurrences(of: ".processor.", with: ".")
            let clip = component == .textEncoder
            for (old, new) in [("to_q_lora", clip ? "q_proj" : "to_q"), ("to_k_lora", clip ? "k_proj" : "to_k"),
                               ("to_v_lora", clip ? "v_proj" : "to_v"), ("to_out_lora", clip ? "out_proj" : "to_out.0")]
            where module.hasSuffix("." + old) {
                module = String(module.dropLast(old.count)) + new
            }
            if module.hasPrefix("text_model.") { module.removeFirst("text_model.".count) }
            return (component, module)
        }
        return nil
    }

    /// The factors for the weight `name` (diffusers' `X.weight`) of `component`, if the file has them.
    func factors(forWeight name: String, in component: Component) -> (module: String, down: String, up: String, alpha: Float?)? {
        guard name.hasSuffix(".weight"), let table = modules[component] else { return nil }
        var module = String(name.dropLast(".weight".count))
        // Text encoders are saved with and without transformers' `text_model.`; modules are kept without it.
        if module.hasPrefix("text_model.") { module.removeFirst("text_model.".count) }
        if let f = table[module] { return (module, f.down, f.up, f.alpha) }
        let underscored = module.replacingOccurrences(of: ".", with: "_")
        if let f = table[underscored] { return (underscored, f.down, f.up, f.alpha) }
        return nil
    }

    /// `weight` with this LoRA merged in, if the file has factors for it.
    func merge(into weight: Tensor, name: String, component: Component, source: String) throws -> Tensor {
        guard let f = factors(forWeight: name, in: component) else { return weight }
        let down = try file.tensor(f.down), up = try file.tensor(f.up)
        let rank = down.shape.first ?? 0
        let out = weight.shape.first ?? 0, fanIn = weight.count / max(out, 1)
        guard rank > 0, up.shape.first == out, up.count == out * rank, down.count == rank * fanIn else {
            throw InputError(path, "LoRA for '\(name)' has down \(down.shape) and up \(up.shape), which do not fit its weight \(weight.shape) in \(source)")
        }
        var merged = weight
        let factor = scale * (f.alpha ?? Float(rank)) / Float(rank)
        merged.storage.withUnsafeMutableBufferPointer { w in
            up.storage.withUnsafeBufferPointer { u in
                down.storage.withUnsafeBufferPointer { d in
                    BLAS.sgemm(transA: false, transB: false, m: out, n: fanIn, k: rank, alpha: factor, a: u.baseAddress!, lda: rank,
                               b: d.baseAddress!, ldb: fanIn, beta: 1, c: w.baseAddress!, ldc: fanIn)
                }
            }
        }
        self.merged[component, default: []].insert(f.module)
        return merged
    }

    /// Fails if a module of the file met no weight of the model.
    func checkAllMerged() throws {
        for (component, table) in modules.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let missed = table.keys.filter { !(merged[component]?.contains($0) ?? false) }.sorted()
            guard missed.isEmpty else {
                let more = missed.count > 1 ? " and \(missed.count - 1) more" : ""
                throw InputError(path, "LoRA module '\(missed[0])'\(more) matches no weight of the model's \(component.rawValue); it was made for another model")
            }
        }
    }
}
