import Core
import Foundation

extension GridRadianceField {
    /// A field of its own with the same grid, environment and occupancy grid.
    public func copy() -> GridRadianceField {
        let field = GridRadianceField(resolution: resolution, contraction: contraction)
        (field.values, field.environment, field.occupancy) = (values, environment, occupancy)
        return field
    }

    /// Views rendered as [N, 3, h, w] in [0, 1] (every camera the same size), each pixel's
    /// samples shifted by `jitter` within their first step.
    public func renderViews(_ cameras: [NeRFCamera], jitter: Float = 0.5) -> Tensor {
        precondition(!cameras.isEmpty && cameras.allSatisfy { $0.width == cameras[0].width && $0.height == cameras[0].height },
                     "renderViews: cameras of one size")
        let (w, h) = (cameras[0].width, cameras[0].height), plane = w * h
        var out = [Float](repeating: 0, count: cameras.count * 3 * plane)
        out.withUnsafeMutableBufferPointer { o in
            parallelFor(cameras.count * h) { row in
                let (v, y) = (row / h, row % h)
                for x in 0..<w {
                    let c = self.render(cameras[v].ray(x: x, y: y), jitter: jitter).color
                    for k in 0..<3 { o[(v * 3 + k) * plane + y * w + x] = c[k] }
                }
            }
        }
        return Tensor(shape: [cameras.count, 3, h, w], storage: out)
    }
}

/// The gradient of a loss on rendered views with respect to a field's grid values and
/// environment texels: given ∂loss/∂colour for every pixel of some views ([N, 3, h, w], as
/// `renderViews` lays them out), marches each pixel's ray again and accumulates the
/// renderer's hand-written backward (`renderAndDifferentiate`). Pixels are split into a fixed
/// number of chunks with their own buffers, summed in chunk order, so the gradient is the same
/// bits on any number of cores.
public final class ViewGradient {
    public static let chunks = 4
    let valueCount: Int, environmentCount: Int
    /// Each chunk's gradient, one after another; chunk 0's holds the sum after `accumulate`.
    var values: [Float], environment: [Float]
    let samples = (0..<ViewGradient.chunks).map { _ in RaySamples() }

    public init(field: GridRadianceField) {
        (valueCount, environmentCount) = (field.values.count, field.environment.count)
        values = [Float](repeating: 0, count: valueCount * Self.chunks)
        environment = [Float](repeating: 0, count: environmentCount * Self.chunks)
    }

    /// ∂loss/∂values (laid out as the field's `values`) and ∂loss/∂environment of the views of
    /// `cameras` whose colours have cotangent `colourGradient` [N, 3, h, w].
    public func compute(field: GridRadianceField, cameras: [NeRFCamera], colourGradient: Tensor, jitter: Float = 0.5)
        -> (values: ArraySlice<Float>, environment: ArraySlice<Float>) {
        precondition(field.values.count == valueCount && colourGradient.shape.count == 4 && colourGradient.shape[0] == cameras.count,
                     "ViewGradient: field or gradient does not match")
        let (h, w) = (colourGradient.shape[2], colourGradient.shape[3]), plane = w * h
        let rows = cameras.count * h
        let (n, e) = (valueCount, environmentCount)
        for i in values.indices { values[i] = 0 }
        for i in environment.indices { environment[i] = 0 }
        values.withUnsafeMutableBufferPointer { g in
            environment.withUnsafeMutableBufferPointer { eg in
                colourGradient.storage.withUnsafeBufferPointer { cg in
                    parallelFor(Self.chunks) { k in
                        let samples = self.samples[k]
                        for row in (k * rows / Self.chunks)..<((k + 1) * rows / Self.chunks) {
                            let (v, y) = (row / h, row % h)
                            for x in 0..<w {
                                let p = y * w + x
                                let d = SIMD3<Float>(cg[(v * 3) * plane + p], cg[(v * 3 + 1) * plane + p], cg[(v * 3 + 2) * plane + p])
                                guard d != .zero else { continue }
                                field.renderAndDifferentiate(cameras[v].ray(x: x, y: y), jitter: jitter, samples: samples, lossGradient: { _ in d },
                                                             gradient: g.baseAddress! + k * n, environmentGradient: eg.baseAddress! + k * e)
                            }
                        }
                    }
                }
            }
        }
        values.withUnsafeMutableBufferPointer { g in
            parallelChunks(n, minimumChunk: 1 << 16) { range in
                for k in 1..<Self.chunks { for i in range { g[i] += g[k * n + i] } }
            }
        }
        for k in 1..<Self.chunks { for i in 0..<e { environment[i] += environment[k * e + i] } }
        return (values[0..<n], environment[0..<e])
    }
}
