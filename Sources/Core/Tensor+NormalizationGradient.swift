import CVectorKernels
import Foundation

/// Vector-Jacobian products of group norm (with its fused SiLU), layer norm and softmax. The
/// statistics are recomputed from the input; parameter gradients are summed in a fixed order.
extension Tensor {
    /// Gradients of `x.groupNorm(groups:weight:bias:eps:thenSiLU:)` for the output gradient `dy`.
    /// `weight`/`bias` nil mean 1 and 0; their gradients are returned only when they are given.
    static func groupNormGradients(_ dy: Tensor, input x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?,
                                   eps: Float, thenSiLU: Bool) -> (input: Tensor, weight: Tensor?, bias: Tensor?) {
        let n = x.shape[0], c = x.shape[1]
        let spatial = x.count / (n * c), perGroup = c / groups
        let m = Double(perGroup * spatial)
        var dx = Tensor(uninitialized: x.shape)
        // Per (image, channel) partial sums of dz·x̂ and dz, added over the images afterwards.
        var partialWeight = [Float](repeating: 0, count: n * c), partialBias = [Float](repeating: 0, count: n * c)
        x.storage.withUnsafeBufferPointer { xs in
            dy.storage.withUnsafeBufferPointer { gs in
                dx.storage.withUnsafeMutableBufferPointer { ds in
                    partialWeight.withUnsafeMutableBufferPointer { pw in
                        partialBias.withUnsafeMutableBufferPointer { pb in
                            let (xp, gp, dp) = (xs.baseAddress!, gs.baseAddress!, ds.baseAddress!)
                            let (pwp, pbp) = (pw.baseAddress!, pb.baseAddress!)
                            parallelFor(n * groups) { ng in
                                let base = ng * perGroup * spatial
                                let (mean, variance) = Tensor.moments(xp + base, perGroup * spatial)
                                let inv = 1 / (variance + eps).squareRoot()
                                let g0 = (ng % groups) * perGroup, image = ng / groups
                                var sum1 = 0.0, sum2 = 0.0
                                for cc in 0..<perGroup {
                                    let ch = g0 + cc
                                    let offset = base + cc * spatial
                                    var sw: Float = 0, sb: Float = 0
                                    csd_norm_backward_channel(xp + offset, gp + offset, dp + offset, spatial, mean, inv,
                                                              weight?.storage[ch] ?? 1, bias?.storage[ch] ?? 0, thenSiLU ? 1 : 0,
                                                              &sw, &sb, &sum1, &sum2)
                                    pwp[image * c + ch] = sw
                                    pbp[image * c + ch] = sb
                                }
                                csd_norm_backward_finish(xp + base, dp + base, perGroup * spatial, mean, inv,
                                                         Float(sum1 / m), Float(sum2 / m))
                            }
                        }
                    }
                }
            }
        }
        let dw = weight.map { _ in Tensor(shape: [n, c], storage: partialWeight).sumOverLeadingAxes() }
        let db = bias.map { _ in Tensor(shape: [n, c], storage: partialBias).sumOverLeadingAxes() }
        return (dx, dw, db)
    }

    /// Gradients of `x.layerNorm(weight:bias:eps:)` over the last axis for the output gradient `dy`.
    static func layerNormGradients(_ dy: Tensor, input x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float)
        -> (input: Tensor, weight: Tensor?, bias: Tensor?) {
        let dim = x.shape[x.rank - 1], rows = x.count / dim
        var dx = Tensor(uninitialized: x.shape)
        var products = Tensor(uninitialized: [rows, dim])
        x.storage.withUnsafeBufferPointer { xs in
            dy.storage.withUnsafeBufferPointer { gs in
                dx.storage.withUnsafeMutableBufferPointer { ds in
                    products.storage.withUnsafeMutableBufferPointer { ps in
                        let (xp, gp, dp, pp) = (xs.baseAddress!, gs.baseAddress!, ds.baseAddress!, ps.baseAddress!)
                        parallelChunks(rows, minimumChunk: 16) { range in
                            for r in range {
                                let row = r * dim
                                let (mean, variance) = Tensor.moments(xp + row, dim)
                                let inv = 1 / (variance + eps).squareRoot()
                                var sum1 = 0.0, sum2 = 0.0
                                for j in 0..<dim {
                                    let xhat = (xp[row + j] - mean) * inv
                                    pp[row + j] = gp[row + j] * xhat
                                    let dxhat = gp[row + j] * (weight?.storage[j] ?? 1)
                                    sum1 += Double(dxhat)
                                    sum2 += Double(dxhat * xhat)
                                }
                                let mean1 = Float(sum1 / Double(dim)), mean2 = Float(sum2 / Double(dim))
                                for j in 0..<dim {
                                    let xhat = (xp[row + j] - mean) * inv
                                    let dxhat = gp[row + j] * (weight?.storage[j] ?? 1)
                                    dp[row + j] = inv * (dxhat - mean1 - xhat * mean2)
                                }
                            }
                        }
                    }
                }
            }
        }
        let dw = weight.map { _ in products.sumOverLeadingAxes() }
        let db = bias.map { _ in dy.reshaped([rows, dim]).sumOverLeadingAxes() }
        return (dx, dw, db)
    }

    /// The gradient of `softmax()` (last axis), from its output `y`: `y·(dy − Σ dy·y)` per row.
    static func softmaxGradient(_ dy: Tensor, output y: Tensor) -> Tensor {
        let dim = y.shape[y.rank - 1]
        var dx = Tensor(uninitialized: y.shape)
        y.storage.withUnsafeBufferPointer { ys in
            dy.storage.withUnsafeBufferPointer { gs in
                dx.storage.withUnsafeMutableBufferPointer { ds in
                    let (yp, gp, dp) = (ys.baseAddress!, gs.baseAddress!, ds.baseAddress!)
                    parallelChunks(y.count / dim, minimumChunk: 8) { range in
                        for r in range { Tensor.softmaxRowGradient(gp + r * dim, yp + r * dim, dp + r * dim, dim) }
                    }
                }
            }
        }
        return dx
    }

    /// One row of the softmax gradient; `dx` may be `dy`.
    @inline(__always)
    static func softmaxRowGradient(_ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int,
                                   scale: Float = 1) {
        csd_softmax_row_gradient(dy, y, dx, n, scale)
    }
}
