import Core
import Foundation

/// Tells an object's shape from its silhouette: a small convolutional network that reads the
/// object's region (found by `SceneAnalyser` from the world's palettes) cropped to a square around
/// it, as two planes — the region's mask and the brightness inside it relative to its mean
/// brightness (the shading across faces; colour plays no part).
///
/// Trained by `Tools/train_shape_classifier.py` on inputs this type makes from renders
/// (`csd world shapes`), sharp and box-blurred by 1 and 2 pixels; the weights ship as
/// `Sources/World/Resources/shape-classifier.safetensors`. Layers (the script's names):
/// `conv1` 2→16 3×3, `conv2` 16→32 3×3 stride 2, `conv3` 32→64 3×3 stride 2, `conv4` 64→64 3×3,
/// each followed by SiLU; the mean over positions; `head` 64→4 (one logit per `Shape`, in
/// `Shape.allCases` order).
public struct ShapeClassifier {
    /// Side of the square input planes.
    public static let inputSide = 24
    /// Planes per input: the mask, then the relative brightness.
    public static let inputPlanes = 2

    let conv1: Conv2d, conv2: Conv2d, conv3: Conv2d, conv4: Conv2d
    let head: Linear

    /// Loads the weights from a safetensors file; a missing, extra or misshapen tensor is an error naming the file.
    public init(path: String) throws {
        let store = ParameterStore(files: [try SafetensorsFile(path: path)])
        conv1 = try Conv2d(store, "conv1", inChannels: Self.inputPlanes, outChannels: 16, kernel: 3)
        conv2 = try Conv2d(store, "conv2", inChannels: 16, outChannels: 32, kernel: 3, stride: 2)
        conv3 = try Conv2d(store, "conv3", inChannels: 32, outChannels: 64, kernel: 3, stride: 2)
        conv4 = try Conv2d(store, "conv4", inChannels: 64, outChannels: 64, kernel: 3)
        head = try Linear(store, "head", inFeatures: 64, outFeatures: Shape.allCases.count)
        try store.finish()
    }

    /// The weights that ship with the project.
    public static func bundled() throws -> ShapeClassifier {
        guard let url = Bundle.module.url(forResource: "shape-classifier", withExtension: "safetensors", subdirectory: "Resources") else {
            throw InputError("shape-classifier.safetensors", "the shape classifier's weights are missing from the World module's resources")
        }
        return try ShapeClassifier(path: url.path)
    }

    /// Logits [N, 4] for inputs [N, 2, 24, 24].
    public func logits(_ inputs: Tensor) -> Tensor {
        var x = conv1(inputs).silu()
        x = conv2(x).silu()
        x = conv3(x).silu()
        x = conv4(x).silu()
        let (n, c, positions) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var pooled = [Float](repeating: 0, count: n * c)
        for i in 0..<(n * c) {
            var sum: Float = 0
            for p in 0..<positions { sum += x.storage[i * positions + p] }
            pooled[i] = sum / Float(positions)
        }
        return head(Tensor(shape: [n, c], storage: pooled))
    }

    /// The most likely shape of the object whose region is `region` in an image of `size`×`size` `pixels`.
    public func shape(region: [Bool], pixels: [SIMD3<Float>], size: Int) -> Shape? {
        guard let input = Self.input(region: region, pixels: pixels, size: size) else { return nil }
        let side = Self.inputSide
        let out = logits(Tensor(shape: [1, Self.inputPlanes, side, side], storage: input)).storage
        return Shape.allCases[out.indices.max { out[$0] < out[$1] }!]
    }

    /// The network's input for a region: a square of 1.2× the region's larger side plus 2 pixels,
    /// centred on its bounding box, sampled bilinearly at 24×24 (zero outside the image) from the
    /// mask and from the brightness (r+g+b) inside the mask divided by its mean there. Nil for a
    /// region of fewer than 6 pixels.
    public static func input(region: [Bool], pixels: [SIMD3<Float>], size: Int) -> [Float]? {
        var (minX, minY, maxX, maxY, area) = (size, size, -1, -1, 0)
        var brightnessSum: Float = 0
        for y in 0..<size {
            for x in 0..<size where region[y * size + x] {
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
                area += 1
                brightnessSum += pixels[y * size + x].sum()
            }
        }
        guard area >= 6 else { return nil }
        let mean = max(brightnessSum / Float(area), 1e-3)
        var planes = [[Float]](repeating: [Float](repeating: 0, count: size * size), count: inputPlanes)
        for p in 0..<(size * size) where region[p] {
            planes[0][p] = 1
            planes[1][p] = pixels[p].sum() / mean
        }
        let side = inputSide
        let span = Float(max(maxX - minX + 1, maxY - minY + 1)) * 1.2 + 2
        let (cx, cy) = (Float(minX + maxX) / 2, Float(minY + maxY) / 2)
        var out = [Float](repeating: 0, count: inputPlanes * side * side)
        for j in 0..<side {
            let sy = cy + ((Float(j) + 0.5) / Float(side) - 0.5) * span
            for i in 0..<side {
                let sx = cx + ((Float(i) + 0.5) / Float(side) - 0.5) * span
                let (x0, y0) = (Int(sx.rounded(.down)), Int(sy.rounded(.down)))
                let (fx, fy) = (sx - Float(x0), sy - Float(y0))
                for (k, plane) in planes.enumerated() {
                    func at(_ x: Int, _ y: Int) -> Float { x >= 0 && y >= 0 && x < size && y < size ? plane[y * size + x] : 0 }
                    let top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
                    let bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
                    out[(k * side + j) * side + i] = top * (1 - fy) + bottom * fy
                }
            }
        }
        return out
    }
}
