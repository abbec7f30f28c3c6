/// Vector-Jacobian products of `linear` and of sums over rows, on BLAS.
extension Tensor {
    /// Sums a [..., n] tensor over every leading axis into [n], as one product with a row of
    /// ones (tiles of fixed shape: the same sums whatever the thread count).
    public func sumOverLeadingAxes() -> Tensor {
        let n = shape[shape.count - 1], rows = count / n
        var out = Tensor(zeros: [n])
        guard rows > 0, n > 0 else { return out }
        let ones = [Float](repeating: 1, count: rows)
        ones.withUnsafeBufferPointer { o in
            storage.withUnsafeBufferPointer { s in
                out.storage.withUnsafeMutableBufferPointer { d in
                    BLAS.sgemm(transA: false, transB: false, m: 1, n: n, k: rows, a: o.baseAddress!, lda: rows,
                               b: s.baseAddress!, ldb: n, c: d.baseAddress!, ldc: n)
                }
            }
        }
        return out
    }

    /// `dy·W`: the gradient of `x·Wᵀ + b` with respect to `x` [..., in], for `weight` [out, in, ...].
    static func linearInputGradient(_ dy: Tensor, weight: Tensor, inputShape: [Int]) -> Tensor {
        let out = weight.shape[0], inFeatures = weight.count / out
        let rows = dy.count / out
        var dx = Tensor(uninitialized: inputShape)
        dy.storage.withUnsafeBufferPointer { g in
            weight.storage.withUnsafeBufferPointer { w in
                dx.storage.withUnsafeMutableBufferPointer { d in
                    BLAS.sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: out, a: g.baseAddress!, lda: out,
                               b: w.baseAddress!, ldb: inFeatures, c: d.baseAddress!, ldc: inFeatures)
                }
            }
        }
        return dx
    }

    /// `dyᵀ·x`: the gradient of `x·Wᵀ + b` with respect to `W`, in the weight's own shape.
    static func linearWeightGradient(_ dy: Tensor, input x: Tensor, weightShape: [Int]) -> Tensor {
        let out = weightShape[0], inFeatures = weightShape.reduce(1, *) / out
        let rows = x.count / inFeatures
        var dw = Tensor(uninitialized: weightShape)
        dy.storage.withUnsafeBufferPointer { g in
            x.storage.withUnsafeBufferPointer { xs in
                dw.storage.withUnsafeMutableBufferPointer { d in
                    BLAS.sgemm(transA: true, transB: false, m: out, n: inFeatures, k: rows, a: g.baseAddress!, lda: out,
                               b: xs.baseAddress!, ldb: inFeatures, c: d.baseAddress!, ldc: inFeatures)
                }
            }
        }
        return dw
    }
}
