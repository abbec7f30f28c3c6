import Foundation

/// Reads a JSON config (diffusers' `config.json`, `model_index.json`, …) into a `Decodable`,
/// turning decoding failures into one-line errors that name the file and the key.
public enum ConfigFile {
    public static func decode<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else { throw InputError(path, "no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(path, "cannot be read") }
        return try decode(type, data: data, path: path)
    }

    /// A config built in memory (one inferred from a checkpoint's tensors), decoded with the same
    /// keys and defaults as a file; errors name `path`.
    public static func decode<T: Decodable>(_ type: T.Type, json: [String: Any], path: String) throws -> T {
        try decode(type, data: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), path: path)
    }

    /// `data` read from `path` (errors name it).
    public static func decode<T: Decodable>(_ type: T.Type, data: Data, path: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as InputError {
            throw InputError(path, error.problem)
        } catch let DecodingError.typeMismatch(expected, context) {
            throw InputError(path, "key '\(keyPath(context))' has the wrong type (expected \(typeName(expected)))")
        } catch let DecodingError.valueNotFound(expected, context) {
            throw InputError(path, "key '\(keyPath(context))' is null (expected \(typeName(expected)))")
        } catch let DecodingError.keyNotFound(key, context) {
            let parent = keyPath(context)
            throw InputError(path, "required key '\(parent.isEmpty ? "" : parent + ".")\(key.stringValue)' is missing")
        } catch let DecodingError.dataCorrupted(context) {
            let key = keyPath(context)
            throw InputError(path, key.isEmpty ? "is not valid JSON" : "key '\(key)': \(context.debugDescription)")
        } catch {
            throw InputError(path, "cannot be decoded (\(error))")
        }
    }

    /// Fails unless `value` lies in `range` (NaN never does), naming the key: the values a config
    /// may hold before any layer is built from it.
    public static func require<T: Comparable>(_ value: T, in range: ClosedRange<T>, _ key: String, path: String) throws {
        guard range.contains(value) else { throw InputError(path, "'\(key)' is \(value); it must be in \(range.lowerBound)...\(range.upperBound)") }
    }

    /// `require` for every entry of a list.
    public static func require<T: Comparable>(_ values: [T], in range: ClosedRange<T>, _ key: String, path: String) throws {
        for v in values { try require(v, in: range, key, path: path) }
    }

    static func keyPath(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default: return "\(type)"
        }
    }
}

/// A config value diffusers allows as one integer or one per block (`attention_head_dim`,
/// `layers_per_block`, `transformer_layers_per_block`, …).
public enum IntOrList: Codable, Equatable, Sendable {
    case int(Int)
    case list([Int])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self = .int(v); return }
        if let v = try? c.decode([Int].self) { self = .list(v); return }
        throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath,
                                                          debugDescription: "expected an integer or a list of integers"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .list(let v): try c.encode(v)
        }
    }

    /// One value per block.
    public func perBlock(_ count: Int) -> [Int] {
        switch self {
        case .int(let v): return Array(repeating: v, count: count)
        case .list(let v): return v
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the key is absent or null.
    func value<T: Decodable>(_ key: Key, or fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}
