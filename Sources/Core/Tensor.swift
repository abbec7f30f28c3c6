/// A dense Float32 tensor: a shape and contiguous row-major storage (NCHW for images).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var storage: [Float]

    public init(shape: [Int], storage: [Float]) {
        precondition(shape.reduce(1, *) == storage.count,
                     "Tensor: shape \(shape) does not match \(storage.count) values")
        self.shape = shape
        self.storage = storage
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, storage: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// A tensor of `shape` whose values are left as the allocator gives them, for kernels that
    /// write every element before anything reads one (skips the zero fill).
    init(uninitialized shape: [Int]) {
        let n = shape.reduce(1, *)
        self.init(shape: shape, storage: [Float](unsafeUninitializedCapacity: n) { _, count in count = n })
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, storage: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Number of elements.
    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// Largest absolute value (0 for an empty tensor; NaN if any value is NaN).
    public var maxAbs: Float { storage.reduce(0) { $1.isNaN || $0.isNaN ? .nan : max($0, abs($1)) } }

    /// Values that are NaN or infinite.
    public var nonFiniteCount: Int { storage.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } }

    /// Largest absolute difference to another tensor of the same shape.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "maxAbsDifference: shapes \(shape) and \(other.shape) differ")
        var m: Float = 0
        for i in 0..<count {
            let d = abs(storage[i] - other.storage[i])
            if d.isNaN { return .nan }
            m = max(m, d)
        }
        return m
    }

    /// The slice `index` along the first axis, with that axis removed.
    public func item(_ index: Int) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: Array(shape.dropFirst()), storage: Array(storage[index * inner ..< (index + 1) * inner]))
    }

    /// The slices `indices` along the first axis, in that order (the axis kept).
    public func rows(_ indices: [Int]) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        var out = [Float]()
        out.reserveCapacity(indices.count * inner)
        for i in indices { out += storage[i * inner ..< (i + 1) * inner] }
        return Tensor(shape: [indices.count] + Array(shape.dropFirst()), storage: out)
    }

    /// Writes the slices of `values` over the slices `indices` along the first axis.
    public mutating func setRows(_ indices: [Int], to values: Tensor) {
        let inner = shape.dropFirst().reduce(1, *)
        precondition(values.shape == [indices.count] + Array(shape.dropFirst()), "setRows: \(values.shape) for \(indices.count) rows of \(shape)")
        for (k, i) in indices.enumerated() {
            storage.replaceSubrange(i * inner ..< (i + 1) * inner, with: values.storage[k * inner ..< (k + 1) * inner])
        }
    }

    /// Stacks tensors of one shape along a new first axis.
    public static func stack(_ items: [Tensor]) -> Tensor {
        precondition(!items.isEmpty, "stack: no tensors")
        let shape = items[0].shape
        var storage = [Float]()
        storage.reserveCapacity(items.count * items[0].count)
        for item in items {
            precondition(item.shape == shape, "stack: shapes \(shape) and \(item.shape) differ")
            storage += item.storage
        }
        return Tensor(shape: [items.count] + shape, storage: storage)
    }

    /// Concatenates along the first axis.
    public static func concatenateBatch(_ items: [Tensor]) -> Tensor {
        precondition(!items.isEmpty, "concatenateBatch: no tensors")
        let inner = Array(items[0].shape.dropFirst())
        var storage = [Float]()
        var n = 0
        for item in items {
            precondition(Array(item.shape.dropFirst()) == inner, "concatenateBatch: shapes differ")
            storage += item.storage
            n += item.shape[0]
        }
        return Tensor(shape: [n] + inner, storage: storage)
    }
}
