import CVectorKernels

/// Gradients of the operations that move values rather than compute them: nearest upsampling,
/// channel concatenation and slicing, per-channel sums, and row gathers (embeddings, pooling).
extension Tensor {
    /// The adjoint of `upsampleNearest(height:width:)`: each source pixel sums the gradients of
    /// the output pixels that copied it (in a fixed order per plane).
    static func upsampleNearestGradient(_ dy: Tensor, inputShape: [Int]) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (ho, wo) = (dy.shape[2], dy.shape[3])
        let (xIndex, yIndex) = (Tensor.nearestSources(wo, of: w), Tensor.nearestSources(ho, of: h))
        var dx = Tensor(zeros: inputShape)
        dy.storage.withUnsafeBufferPointer { g in
            dx.storage.withUnsafeMutableBufferPointer { d in
                let gp = g.baseAddress!, dp = d.baseAddress!
                parallelFor(n * c) { nc in
                    let src = gp + nc * ho * wo, dst = dp + nc * h * w
                    for oy in 0..<ho {
                        let drow = dst + yIndex[oy] * w, srow = src + oy * wo
                        for ox in 0..<wo { drow[xIndex[ox]] += srow[ox] }
                    }
                }
            }
        }
        return dx
    }

    /// Channels `range` of an N×C×… tensor.
    public func channels(_ range: Range<Int>) -> Tensor {
        let n = shape[0], c = shape[1], inner = count / (n * c)
        var out = [Float]()
        out.reserveCapacity(n * range.count * inner)
        for b in 0..<n { out += storage[(b * c + range.lowerBound) * inner ..< (b * c + range.upperBound) * inner] }
        var outShape = shape
        outShape[1] = range.count
        return Tensor(shape: outShape, storage: out)
    }

    /// The adjoint of `channels(range)`: the gradient placed in those channels, zeros elsewhere.
    static func channelsGradient(_ dy: Tensor, range: Range<Int>, inputShape: [Int]) -> Tensor {
        let n = inputShape[0], c = inputShape[1], inner = dy.count / (n * range.count)
        var dx = Tensor(zeros: inputShape)
        for b in 0..<n {
            dx.storage.replaceSubrange((b * c + range.lowerBound) * inner ..< (b * c + range.upperBound) * inner,
                                       with: dy.storage[b * range.count * inner ..< (b + 1) * range.count * inner])
        }
        return dx
    }

    /// Sums each (item, channel) plane of an N×C×… tensor: [N, C] (the adjoint of `addingPerChannel`).
    func sumPerChannel() -> Tensor {
        let n = shape[0], c = shape[1], inner = count / (n * c)
        var out = Tensor(zeros: [n, c])
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { o in
                let sp = s.baseAddress!, op = o.baseAddress!
                parallelFor(n * c) { nc in op[nc] = Float(csd_sum(sp + nc * inner, inner)) }
            }
        }
        return out
    }

    /// Rows `indices` of a [R, D] table: [indices.count, D] (embedding lookup, pooling).
    public func gatheringRows(_ indices: [Int]) -> Tensor {
        let d = count / shape[0]
        var out = Tensor(uninitialized: [indices.count, d])
        storage.withUnsafeBufferPointer { s in
            out.storage.withUnsafeMutableBufferPointer { o in
                for (r, i) in indices.enumerated() {
                    precondition(i >= 0 && i < shape[0], "gatheringRows: row \(i) of \(shape[0])")
                    (o.baseAddress! + r * d).update(from: s.baseAddress! + i * d, count: d)
                }
            }
        }
        return out
    }

    /// The adjoint of `gatheringRows`: each row's gradient added into the table row it came from,
    /// in order.
    static func gatheringRowsGradient(_ dy: Tensor, indices: [Int], tableShape: [Int]) -> Tensor {
        let d = tableShape.reduce(1, *) / tableShape[0]
        var dt = Tensor(zeros: tableShape)
        dy.storage.withUnsafeBufferPointer { g in
            dt.storage.withUnsafeMutableBufferPointer { t in
                for (r, i) in indices.enumerated() {
                    let src = g.baseAddress! + r * d, dst = t.baseAddress! + i * d
                    for j in 0..<d { dst[j] += src[j] }
                }
            }
        }
        return dt
    }
}
