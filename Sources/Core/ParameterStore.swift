/// The weights of one model, from one or more safetensors files, handed out by name.
///
/// Layers ask for their parameters by diffusers/transformers state-dict name and shape; the store
/// records what was taken, so that `finish()` can report parameters the files hold but no layer
/// used. A missing name or a wrong shape is an error naming the file and the tensor.
public final class ParameterStore {
    private var files: [SafetensorsFile]
    private var owner: [String: SafetensorsFile] = [:]
    private var taken = Set<String>()
    /// Alternative names tried when a name is missing (e.g. old VAE attention names).
    public var aliases: [(String, String)] = []

    public init(files: [SafetensorsFile]) {
        self.files = files
        for f in files { for name in f.entries.keys { owner[name] = f } }
    }

    /// A store that invents every parameter it is asked for: norm scales 1, biases 0, other
    /// weights uniform in ±1/√fan_in (seeded). `invented` keeps them, to be saved for a peer.
    public static func randomlyInitialised(seed: UInt64) -> ParameterStore {
        let store = ParameterStore(files: [])
        store.generator = RandomGenerator(seed: seed)
        return store
    }

    private var generator: RandomGenerator?
    /// The parameters a randomly initialised store handed out, by name.
    public private(set) var invented: [String: Tensor] = [:]

    public convenience init(paths: [String]) throws {
        try self.init(files: paths.map { try SafetensorsFile(path: $0) })
    }

    /// A store over tensors in memory (a network being trained rebuilds its layers from it).
    public convenience init(tensors: [String: Tensor], source: String = "parameters in memory") {
        self.init(files: [])
        memory = tensors
        memorySource = source
    }

    private var memory: [String: Tensor] = [:]
    private var memorySource = ""

    /// A description of where the weights come from, for messages.
    public var source: String { memory.isEmpty ? files.map(\.path).joined(separator: ", ") : memorySource }

    public func contains(_ name: String) -> Bool { generator != nil ? false : resolve(name) != nil }

    private func resolve(_ name: String) -> String? {
        if owner[name] != nil || memory[name] != nil { return name }
        for (new, old) in aliases where name.contains(new) {
            let alt = name.replacingOccurrences(of: new, with: old)
            if owner[alt] != nil { return alt }
        }
        return nil
    }

    /// LoRAs merged into the weights as they are handed out, with the component they apply to.
    public var loras: [(LoRA, LoRA.Component)] = []

    /// The parameter `name`, which must have `shape`, with the LoRAs merged in.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        var t = try storedTensor(name, shape: shape)
        for (lora, component) in loras { t = try lora.merge(into: t, name: name, component: component, source: source) }
        return t
    }

    private func storedTensor(_ name: String, shape: [Int]) throws -> Tensor {
        if generator != nil { return invent(name, shape: shape) }
        if let t = memory[name] {
            guard t.shape == shape else { throw InputError(source, "parameter '\(name)' has shape \(t.shape), expected \(shape)") }
            taken.insert(name)
            return t
        }
        guard let resolved = resolve(name), let file = owner[resolved] else {
            throw InputError(source, "missing parameter '\(name)' (shape \(shape))")
        }
        let entry = file.entries[resolved]!
        guard [.f32, .f16, .bf16, .f64].contains(entry.dtype) else {
            throw InputError(file.path, "parameter '\(resolved)' has dtype \(entry.dtype.rawValue); weights must be F32, F16, BF16 or F64")
        }
        guard entry.shape == shape else {
            throw InputError(file.path, "parameter '\(resolved)' has shape \(entry.shape), expected \(shape)")
        }
        taken.insert(resolved)
        return try file.tensor(resolved)
    }

    private func invent(_ name: String, shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        var t: Tensor
        if name.hasSuffix(".bias") {
            t = Tensor(zeros: shape)
        } else if shape.count == 1 {
            t = Tensor(shape: shape, repeating: 1)
        } else {
            let fanIn = Float(n / shape[0])
            let bound = 1 / fanIn.squareRoot()
            var values = [Float](repeating: 0, count: n)
            for i in 0..<n { values[i] = Float(generator!.uniform() * 2 - 1) * bound }
            t = Tensor(shape: shape, storage: values)
        }
        invented[name] = t
        return t
    }

    /// The buffer `name` (integer or float: `position_ids` as older transformers save it, I64) and
    /// the file that holds it, if the files hold it; it must have `shape`.
    public func optionalBuffer(_ name: String, shape: [Int]) throws -> (values: Tensor, path: String)? {
        guard generator == nil, let resolved = resolve(name), let file = owner[resolved], let entry = file.entries[resolved] else {
            return nil
        }
        guard entry.shape == shape else {
            throw InputError(file.path, "buffer '\(resolved)' has shape \(entry.shape), expected \(shape)")
        }
        taken.insert(resolved)
        return (try file.tensor(resolved), file.path)
    }

    /// The parameter `name` if the files hold it, else nil.
    public func optionalTensor(_ name: String, shape: [Int]) throws -> Tensor? {
        contains(name) ? try tensor(name, shape: shape) : nil
    }

    /// Fails if any parameter in the files was not taken by a layer.
    public func finish() throws {
        let unused = (Array(owner.keys) + Array(memory.keys)).filter { !taken.contains($0) }.sorted()
        guard unused.isEmpty else {
            let shown = unused.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            let more = unused.count > 3 ? " and \(unused.count - 3) more" : ""
            throw InputError(owner[unused[0]]?.path ?? source, "unexpected parameter \(shown)\(more): the config does not describe these weights")
        }
    }
}
