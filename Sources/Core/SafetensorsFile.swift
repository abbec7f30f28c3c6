import Foundation

/// A `.safetensors` file, memory-mapped: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}}` and the tensor bytes.
///
/// Every header claim is checked against the file: offsets inside the data, no overlaps,
/// a known dtype, and a byte length that fits dtype × shape.
public final class SafetensorsFile {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", u8 = "U8"
        var size: Int {
            switch self {
            case .u8: return 1
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .f64, .i64: return 8
            }
        }
    }

    public struct Entry: Sendable {
        public var dtype: DType
        public var shape: [Int]
        public var begin: Int
        public var end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    /// Free-form `__metadata__` strings.
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    public convenience init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw InputError(path, "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw InputError(path, "cannot be read (\(error.localizedDescription))")
        }
        try self.init(data: data, path: path)
    }

    /// The file's bytes, already read (`path` names it in errors).
    public init(data: Data, path: String) throws {
        self.path = path
        guard data.count >= 8 else { throw InputError(path, "truncated: \(data.count) bytes, too short for a safetensors header") }
        let headerLength = data.withUnsafeBytes { raw in
            UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw InputError(path, "header length \(headerLength) runs past the end of the file (\(data.count) bytes); the file is truncated or not safetensors")
        }
        let headerData = data.subdata(in: 8 ..< 8 + Int(headerLength))
        guard let json = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw InputError(path, "header is not a JSON object; not a safetensors file")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = data.count - dataStart
        var entries = [String: Entry]()
        var metadata = [String: String]()
        for (name, value) in json {
            if name == "__metadata__" {
                if let m = value as? [String: Any] { for (k, v) in m { metadata[k] = "\(v)" } }
                continue
            }
            guard let info = value as? [String: Any],
                  let dtypeName = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw InputError(path, "tensor '\(name)': header entry lacks dtype, shape or data_offsets") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw InputError(path, "tensor '\(name)': unsupported dtype \(dtypeName)")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw InputError(path, "tensor '\(name)': negative dimension in shape \(shape)") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= dataLength else {
                throw InputError(path, "tensor '\(name)': data offsets [\(begin), \(end)] run past the end of the data (\(dataLength) bytes); the file is truncated")
            }
            guard let expected = Self.byteCount(shape, dtype) else {
                throw InputError(path, "tensor '\(name)': shape \(shape) holds more elements than any file can")
            }
            guard end - begin == expected else {
                throw InputError(path, "tensor '\(name)': \(end - begin) bytes do not hold \(dtypeName) \(shape) (\(expected) bytes)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: begin, end: end)
        }
        // As the reference library requires: the tensors tile the data section, from its first
        // byte to its last, with no gap and no overlap (a header one byte off reads every tensor off).
        let sorted = entries.sorted { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }
        var covered = 0, previous: String?
        for (name, e) in sorted {
            if e.begin < covered {
                throw InputError(path, "tensors '\(previous ?? name)' and '\(name)' overlap in the data")
            }
            if e.begin > covered {
                throw InputError(path, "tensor '\(name)' starts at data byte \(e.begin), leaving bytes \(covered)..<\(e.begin) to no tensor; the header does not describe the data")
            }
            covered = e.end
            previous = name
        }
        guard covered == dataLength else {
            throw InputError(path, "the tensors cover \(covered) of the \(dataLength) data bytes; the header does not describe the data")
        }
        self.data = data
        self.dataStart = dataStart
        self.entries = entries
        self.metadata = metadata
    }

    private init(path: String, entries: [String: Entry], metadata: [String: String], data: Data, dataStart: Int) {
        (self.path, self.entries, self.metadata, self.data, self.dataStart) = (path, entries, metadata, data, dataStart)
    }

    /// Where a tensor of a `view` comes from: elements `elements` of the file's tensor `name`
    /// (a run of whole rows or all of it), read as `shape`.
    public struct Slice: Sendable {
        public var name: String
        public var elements: Range<Int>?
        public var shape: [Int]
        public init(_ name: String, elements: Range<Int>? = nil, shape: [Int]) { (self.name, self.elements, self.shape) = (name, elements, shape) }
    }

    /// The same bytes under other names and shapes, without copying: each tensor of the view is
    /// a `Slice` of this file's tensors (a renamed checkpoint, a fused projection split in three).
    public func view(_ slices: [String: Slice]) throws -> SafetensorsFile {
        var viewed = [String: Entry]()
        for (name, slice) in slices {
            guard var e = entries[slice.name] else { throw InputError(path, "no tensor '\(slice.name)'") }
            let count = e.shape.reduce(1, *)
            let range = slice.elements ?? 0..<count
            guard range.lowerBound >= 0, range.upperBound <= count, slice.shape.reduce(1, *) == range.count else {
                throw InputError(path, "tensor '\(slice.name)' \(e.shape) cannot be read as '\(name)' \(slice.shape)")
            }
            e.begin += range.lowerBound * e.dtype.size
            e.end = e.begin + range.count * e.dtype.size
            e.shape = slice.shape
            viewed[name] = e
        }
        return SafetensorsFile(path: path, entries: viewed, metadata: metadata, data: data, dataStart: dataStart)
    }

    /// The tensor `name` as its file stores it (dtype and bytes), for writing it elsewhere unchanged.
    public func rawTensor(_ name: String) throws -> RawTensor {
        guard let e = entries[name] else { throw InputError(path, "no tensor '\(name)'") }
        return RawTensor(dtype: e.dtype.rawValue, shape: e.shape, bytes: data.subdata(in: dataStart + e.begin ..< dataStart + e.end))
    }

    /// Bytes of a `dtype` tensor of `shape`, or nil when the count overflows.
    static func byteCount(_ shape: [Int], _ dtype: DType) -> Int? {
        var n = dtype.size
        for d in shape {
            let (product, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = product
        }
        return n
    }

    /// The tensor `name` converted to Float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw InputError(path, "no tensor '\(name)'") }
        let n = e.shape.reduce(1, *)
        var values = [Float](repeating: 0, count: n)
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + e.begin
            values.withUnsafeMutableBufferPointer { out in
                switch e.dtype {
                case .f32:
                    for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case .f16:
                    for i in 0..<n { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
                case .bf16:
                    for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
                case .f64:
                    for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                case .i64:
                    for i in 0..<n { out[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                case .i32:
                    for i in 0..<n { out[i] = Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
                case .u8:
                    for i in 0..<n { out[i] = Float(base.load(fromByteOffset: i, as: UInt8.self)) }
                }
            }
        }
        return Tensor(shape: e.shape, storage: values)
    }

    /// A tensor to write in any dtype: its raw little-endian bytes.
    public struct RawTensor {
        public var dtype: String
        public var shape: [Int]
        public var bytes: Data
        public init(dtype: String, shape: [Int], bytes: Data) { (self.dtype, self.shape, self.bytes) = (dtype, shape, bytes) }
    }

    /// Writes tensors as a Float32 safetensors file, through a temporary file renamed at the end.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        try write(raw: tensors.mapValues { t in
            RawTensor(dtype: "F32", shape: t.shape, bytes: t.storage.withUnsafeBytes { Data($0) })
        }, metadata: metadata, to: path)
    }

    /// Writes tensors of any dtype, streamed to a temporary file that is renamed at the end.
    public static func write(raw tensors: [String: RawTensor], metadata: [String: String] = [:], to path: String) throws {
        var header = [String: Any]()
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]]
            offset += t.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var prefix = Data()
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { prefix.append(contentsOf: $0) }
        prefix.append(headerBytes)
        // Streamed tensor by tensor: files of several GB never sit in memory as one Data.
        try AtomicFile.checkDestination(path)
        let temporary = AtomicFile.temporaryPath(for: path)
        guard FileManager.default.createFile(atPath: temporary, contents: prefix),
              let handle = FileHandle(forWritingAtPath: temporary) else {
            throw InputError(path, "cannot be written")
        }
        do {
            handle.seekToEndOfFile()
            for name in names {
                try handle.write(contentsOf: tensors[name]!.bytes)
            }
            try handle.close()
            try AtomicFile.commit(temporary, to: path)
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
            throw error as? InputError ?? InputError(path, "cannot be written (\(error.localizedDescription))")
        }
    }
}
