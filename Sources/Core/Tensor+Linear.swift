/// Matrix products on BLAS: `torch.nn.functional.linear` and plain matmul.
extension Tensor {
    /// `x·Wᵀ + b` over the last axis; `weight` is [out, in], `bias` is [out] or nil.
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        Profiler.measure(.linear, flops: 2.0 * Double(count) * Double(weight.shape[0])) { linearUnprofiled(weight: weight, bias: bias) }
    }

    func linearUnprofiled(weight: Tensor, bias: Tensor?) -> Tensor {
        let inFeatures = shape[shape.count - 1]
        let outFeatures = weight.shape[0]
        precondition(weight.shape.count >= 2 && weight.count == outFeatures * inFeatures,
                     "linear: weight \(weight.shape) does not take \(inFeatures) inputs")
        let rows = count / inFeatures
        var outShape = shape
        outShape[outShape.count - 1] = outFeatures
        var out = Tensor(uninitialized: outShape)
        if BLAS.prefersStreamedProduct(m: outFeatures, n: rows, k: inFeatures),
           streamedLinear(weight: weight, bias: bias, rows: rows, into: &out) {
            return out
        }
        storage.withUnsafeBufferPointer { x in
            weight.storage.withUnsafeBufferPointer { w in
                out.storage.withUnsafeMutableBufferPointer { y in
                    if let bias {
                        bias.storage.withUnsafeBufferPointer { b in
                            for r in 0..<rows { (y.baseAddress! + r * outFeatures).update(from: b.baseAddress!, count: outFeatures) }
                        }
                    }
                    BLAS.sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                               a: x.baseAddress!, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
                               beta: bias == nil ? 0 : 1, c: y.baseAddress!, ldc: outFeatures)
                }
            }
        }
        return out
    }

    /// `linear` for a few rows (SD's middle block: 32 tokens) as Yᵀ = W·Xᵀ on
    /// `BLAS.streamedProduct`, which reads the weights once in place, then transposed into `out`
    /// with the bias. Returns false where the product could not run (`out` is then unspecified).
    private func streamedLinear(weight: Tensor, bias: Tensor?, rows: Int, into out: inout Tensor) -> Bool {
        let (inFeatures, outFeatures) = (shape[shape.count - 1], weight.shape[0])
        let ld = (rows + 15) / 16 * 16
        let transposed = UnsafeMutablePointer<Float>.allocate(capacity: outFeatures * ld)
        defer { transposed.deallocate() }
        let done = storage.withUnsafeBufferPointer { x in
            weight.storage.withUnsafeBufferPointer { w in
                BLAS.streamedProduct(m: outFeatures, n: rows, k: inFeatures, a: w.baseAddress!, lda: inFeatures, b: x.baseAddress!,
                                     ldb: inFeatures, transposedB: true, c: transposed, ldc: ld)
            }
        }
        guard done else { return false }
        out.storage.withUnsafeMutableBufferPointer { y in
            (bias?.storage ?? []).withUnsafeBufferPointer { b in
                for r in 0..<rows {
                    let row = y.baseAddress! + r * outFeatures
                    if let bb = b.baseAddress, bias != nil {
                        for o in 0..<outFeatures { row[o] = transposed[o * ld + r] + bb[o] }
                    } else {
                        for o in 0..<outFeatures { row[o] = transposed[o * ld + r] }
                    }
                }
            }
        }
        return true
    }
}
