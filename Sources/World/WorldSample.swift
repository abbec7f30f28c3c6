import Core
import Foundation

/// A random scene and a random camera around it, both fixed by one seed.
public struct WorldSample: Sendable {
    public var seed: UInt64
    public var scene: WorldScene
    public var camera: Camera

    public init(seed: UInt64) {
        self.seed = seed
        scene = WorldScene.random(seed: seed)
        var rng = RandomGenerator(seed: seed ^ 0xC0FF_EE00_D15E_A5E5)
        let angle = Float(rng.uniform() * 2 * Double.pi)
        camera = Camera.orbit(angle: angle, radius: Float(5.5 + 2 * rng.uniform()), height: Float(2 + 1.2 * rng.uniform()))
    }

    /// Labels as integers: ground, time, object count, then (shape, colour) for three slots (−1 when empty).
    public var labels: [Int32] {
        var l: [Int32] = [Int32(Ground.allCases.firstIndex(of: scene.ground)!), Int32(TimeOfDay.allCases.firstIndex(of: scene.time)!),
                          Int32(scene.objects.count)]
        for i in 0..<3 {
            if i < scene.objects.count {
                l += [Int32(Shape.allCases.firstIndex(of: scene.objects[i].shape)!), Int32(ObjectColor.allCases.firstIndex(of: scene.objects[i].color)!)]
            } else {
                l += [-1, -1]
            }
        }
        return l
    }
}

/// Writes training sets: `count` captioned renders in one safetensors shard with
/// `images` U8 [N, H, W, 3], `labels` I32 [N, 9], `seeds` I64 [N] and the captions (a JSON
/// array) in the metadata.
public enum WorldDataset {
    /// Runs `body` for every index below `count`, in chunks of 256 spread over the cores, and
    /// reports the indices done after each chunk.
    static func forEachInChunks(_ count: Int, progress: ((Int) -> Void)?, _ body: (Int) -> Void) {
        let chunk = 256
        let lock = NSLock()
        var done = 0
        parallelFor((count + chunk - 1) / chunk) { c in
            for i in (c * chunk)..<min(count, (c + 1) * chunk) { body(i) }
            lock.lock(); done += 1; let d = done; lock.unlock()
            progress?(min(count, d * chunk))
        }
    }

    public static func write(count: Int, size: Int, firstSeed: UInt64, to path: String, progress: ((Int) -> Void)? = nil) throws {
        try AtomicFile.checkDestination(path)
        let pixels = size * size * 3
        var images = [UInt8](repeating: 0, count: count * pixels)
        var labels = [Int32](repeating: 0, count: count * 9)
        var captions = [String](repeating: "", count: count)
        images.withUnsafeMutableBufferPointer { imageBuffer in
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                captions.withUnsafeMutableBufferPointer { captionBuffer in
                    let (ib, lb, cb) = (imageBuffer.baseAddress!, labelBuffer.baseAddress!, captionBuffer.baseAddress!)
                    forEachInChunks(count, progress: progress) { i in
                        let sample = WorldSample(seed: firstSeed + UInt64(i))
                        let bytes = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: size, height: size).bytes
                        for k in 0..<pixels { ib[i * pixels + k] = bytes[k] }
                        for (k, v) in sample.labels.enumerated() { lb[i * 9 + k] = v }
                        cb[i] = sample.scene.caption
                    }
                }
            }
        }
        let seeds = (0..<count).map { Int64(firstSeed) + Int64($0) }
        let captionJSON = String(decoding: try JSONSerialization.data(withJSONObject: captions), as: UTF8.self)
        try SafetensorsFile.write(raw: [
            "images": .init(dtype: "U8", shape: [count, size, size, 3], bytes: Data(images)),
            "labels": .init(dtype: "I32", shape: [count, 9], bytes: labels.withUnsafeBytes { Data($0) }),
            "seeds": .init(dtype: "I64", shape: [count], bytes: seeds.withUnsafeBytes { Data($0) }),
        ], metadata: ["captions": captionJSON, "size": "\(size)", "first_seed": "\(firstSeed)"], to: path)
    }
}

/// Writes the instruction model's training set: `count` pairs in one safetensors shard with
/// `sources` and `targets` U8 [N, H, W, 3] (a render and the same scene, seed and camera with the
/// instruction applied), `seeds` I64 [N] and the instructions (a JSON array) in the metadata.
/// Instructions held out by `WorldInstruction.isHeldOut`, and edits whose result uses a
/// combination held out of the prior, are redrawn, so neither is ever seen in training.
public enum WorldInstructionDataset {
    /// The pair for one seed: the sample, its instruction and the edited scene.
    public static func pair(seed: UInt64) -> (WorldSample, WorldInstruction, WorldScene) {
        let sample = WorldSample(seed: seed)
        var draw: UInt64 = 0
        while true {
            let instruction = WorldInstruction.random(for: sample.scene, seed: seed &* 31 &+ draw)
            let edited = instruction.applied(to: sample.scene)
            if !instruction.isHeldOut && !WorldInstruction.resultIsHeldOut(edited) { return (sample, instruction, edited) }
            draw += 1
        }
    }

    public static func write(count: Int, size: Int, firstSeed: UInt64, to path: String, progress: ((Int) -> Void)? = nil) throws {
        try AtomicFile.checkDestination(path)
        let pixels = size * size * 3
        var sources = [UInt8](repeating: 0, count: count * pixels)
        var targets = [UInt8](repeating: 0, count: count * pixels)
        var instructions = [String](repeating: "", count: count)
        sources.withUnsafeMutableBufferPointer { sourceBuffer in
            targets.withUnsafeMutableBufferPointer { targetBuffer in
                instructions.withUnsafeMutableBufferPointer { textBuffer in
                    let (sb, tb, xb) = (sourceBuffer.baseAddress!, targetBuffer.baseAddress!, textBuffer.baseAddress!)
                    WorldDataset.forEachInChunks(count, progress: progress) { i in
                        let (sample, instruction, edited) = pair(seed: firstSeed + UInt64(i))
                        let before = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: size, height: size).bytes
                        let after = WorldRenderer(scene: edited).render(camera: sample.camera, width: size, height: size).bytes
                        for k in 0..<pixels { sb[i * pixels + k] = before[k]; tb[i * pixels + k] = after[k] }
                        xb[i] = instruction.text
                    }
                }
            }
        }
        let seeds = (0..<count).map { Int64(firstSeed) + Int64($0) }
        let textJSON = String(decoding: try JSONSerialization.data(withJSONObject: instructions), as: UTF8.self)
        try SafetensorsFile.write(raw: [
            "sources": .init(dtype: "U8", shape: [count, size, size, 3], bytes: Data(sources)),
            "targets": .init(dtype: "U8", shape: [count, size, size, 3], bytes: Data(targets)),
            "seeds": .init(dtype: "I64", shape: [count], bytes: seeds.withUnsafeBytes { Data($0) }),
        ], metadata: ["instructions": textJSON, "size": "\(size)", "first_seed": "\(firstSeed)"], to: path)
    }
}
