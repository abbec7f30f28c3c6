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
}
