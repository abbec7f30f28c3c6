import Core
import Foundation

/// Which cells of the contracted cube [−2, 2]³ may hold density (as Instant-NGP keeps one):
/// a decaying maximum of the density seen in each cell, and a cell counts as occupied while
/// that density would make a step through it at least `threshold` opaque. Samples in empty
/// cells are skipped by the renderer.
public struct OccupancyGrid: Sendable {
    public let resolution: Int
    /// Decaying maximum density per cell, x fastest.
    public private(set) var density: [Float]
    public private(set) var occupied: [Bool]
    /// Opacity of one step below which a cell counts as empty.
    public var threshold: Float = 0.005

    /// A grid with every cell occupied.
    public init(resolution: Int) {
        self.resolution = resolution
        density = [Float](repeating: .infinity, count: resolution * resolution * resolution)
        occupied = [Bool](repeating: true, count: density.count)
    }

    /// The cell holding contracted point `q`.
    @inline(__always)
    func cell(_ q: SIMD3<Float>) -> Int {
        let scale = Float(resolution) / 4
        let top = resolution - 1
        let x = min(max(Int((q.x + 2) * scale), 0), top), y = min(max(Int((q.y + 2) * scale), 0), top)
        let z = min(max(Int((q.z + 2) * scale), 0), top)
        return (z * resolution + y) * resolution + x
    }

    @inline(__always)
    public func isOccupied(_ q: SIMD3<Float>) -> Bool { occupied[cell(q)] }

    /// The fraction of cells occupied.
    public var occupiedFraction: Double { Double(occupied.lazy.filter { $0 }.count) / Double(occupied.count) }

    /// Re-estimates every cell from `field`'s density at one random point inside it:
    /// `density = max(decay · density, σ)`.
    public mutating func update(from field: GridRadianceField, decay: Float = 0.95, rng: inout RandomGenerator) {
        let r = resolution
        let jitter = (0..<(3 * r)).map { _ in Float(rng.uniform()) }
        let cellSize = 4 / Float(r)
        let threshold = threshold
        density.withUnsafeMutableBufferPointer { estimate in
            occupied.withUnsafeMutableBufferPointer { occupied in
                parallelChunks(r, minimumChunk: 1) { zs in
                    for z in zs { for y in 0..<r { for x in 0..<r {
                        let q = SIMD3<Float>(-2 + (Float(x) + jitter[x]) * cellSize, -2 + (Float(y) + jitter[r + y]) * cellSize,
                                             -2 + (Float(z) + jitter[2 * r + z]) * cellSize)
                        let i = (z * r + y) * r + x
                        let sigma = field.density(contracted: q)
                        let previous = estimate[i].isFinite ? estimate[i] * decay : 0
                        estimate[i] = max(previous, sigma)
                        occupied[i] = estimate[i] * field.stepLength(contracted: q) >= threshold
                    } } }
                }
            }
        }
    }

    /// Puts back a state saved from `density` and `occupied` (a checkpoint's).
    mutating func restore(density: [Float], occupied: [Bool]) {
        precondition(density.count == self.density.count && occupied.count == self.occupied.count, "OccupancyGrid.restore: sizes")
        (self.density, self.occupied) = (density, occupied)
    }
}
