import Core
import Foundation

/// The shape classifier's training set: `ShapeClassifier.input` planes of single-object renders
/// (every colour, shape, ground and time in turn, random camera and placement), each sharp and
/// box-blurred by 1 and 2 pixels, since generated images are softer than renders.
public enum ShapeTrainingSet {
    /// Box-blur radii each render is seen at.
    public static let blurs = [0, 1, 2]

    /// Writes `inputs` [M, 2, 24, 24] (F32), `labels` [M] (U8, index into `Shape.allCases`) and
    /// `blurs` [M] (U8) to a safetensors file (temporary file, renamed). Renders where the
    /// analyser finds no object are left out. Seeds run from `firstSeed`; keep them clear of the
    /// analyser's references (9,000,000…), its tests (5,000,000…) and `csd eval analyser` (30,000,000…).
    public static func write(count: Int, firstSeed: UInt64, to path: String, progress: ((Int) -> Void)? = nil) throws {
        let analyser = SceneAnalyser(size: 64)
        let combos = SceneAnalyser.singleObjectCases
        var (inputs, labels, radii) = ([Float](), [UInt8](), [UInt8]())
        for i in 0..<count {
            let (c, s, g, t) = combos[i % combos.count]
            let sample = SceneAnalyser.singleObjectSample(color: c, shape: s, ground: g, time: t, seed: firstSeed + UInt64(i))
            let r = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: 64, height: 64)
            for radius in blurs {
                guard let input = analyser.shapeInput(of: RGBImage(width: 64, height: 64, pixels: r.bytes).boxBlurred(radius: radius)) else { continue }
                inputs += input
                labels.append(UInt8(Shape.allCases.firstIndex(of: s)!))
                radii.append(UInt8(radius))
            }
            if i % 256 == 255 { progress?(i + 1) }
        }
        let side = ShapeClassifier.inputSide
        try SafetensorsFile.write(raw: [
            "inputs": .init(dtype: "F32", shape: [labels.count, ShapeClassifier.inputPlanes, side, side], bytes: inputs.withUnsafeBytes { Data($0) }),
            "labels": .init(dtype: "U8", shape: [labels.count], bytes: Data(labels)),
            "blurs": .init(dtype: "U8", shape: [labels.count], bytes: Data(radii)),
        ], metadata: ["shapes": Shape.allCases.map(\.rawValue).joined(separator: ","), "first_seed": "\(firstSeed)", "renders": "\(count)"], to: path)
        progress?(count)
    }
}
