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

    public convenience init(paths: [String]) throws {
        try self.init(files: paths.map { try SafetensorsFile(path: $0) })
    }

    /// A description of where the weights come from, for messages.
    public var source: String { files.map(\.path).joined(separator: ", ") }

    public func contains(_ name: String) -> Bool { resolve(name) != nil }

    private func resolve(_ name: String) -> String? {
        if owner[name] != nil { return name }
        for (new, old) in aliases where name.contains(new) {
            let alt = name.replacingOccurrences(of: new, with: old)
            if owner[alt] != nil { return alt }
        }
        return nil
    }

    /// The parameter `name`, which must have `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
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

    /// The parameter `name` if the files hold it, else nil.
    public func optionalTensor(_ name: String, shape: [Int]) throws -> Tensor? {
        contains(name) ? try tensor(name, shape: shape) : nil
    }

    /// Fails if any parameter in the files was not taken by a layer.
    public func finish() throws {
        let unused = owner.keys.filter { !taken.contains($0) }.sorted()
        guard unused.isEmpty else {
            let shown = unused.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            let more = unused.count > 3 ? " and \(unused.count - 3) more" : ""
            throw InputError(owner[unused[0]]!.path, "unexpected parameter \(shown)\(more): the config does not describe these weights")
        }
    }
}
