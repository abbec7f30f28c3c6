import Core
import Foundation
import Testing
@testable import World

@Suite struct SceneAnalyserTests {
    static let analyser = SceneAnalyser(size: 64)

    /// The analyser's hit rates (colour, ground, shape) on 240 single-object renders whose seeds
    /// the references never used, each passed through `prepare` first, and its misses.
    static func judgeRenders(_ prepare: (RGBImage) -> RGBImage) -> (rates: [Double], misses: [String]) {
        var (colour, ground, shape, total) = (0, 0, 0, 0)
        var misses = [String]()
        var seed: UInt64 = 5_000_000
        for time in TimeOfDay.allCases {
            for g in Ground.allCases {
                for c in ObjectColor.allCases {
                    for s in Shape.allCases {
                        seed += 1
                        guard seed % 2 == 0 else { continue }
                        let sample = SceneAnalyser.singleObjectSample(color: c, shape: s, ground: g, time: time, seed: seed)
                        let r = WorldRenderer(scene: sample.scene).render(camera: sample.camera, width: 64, height: 64)
                        let j = analyser.judge(prepare(RGBImage(width: 64, height: 64, pixels: r.bytes)))
                        total += 1
                        if j.dominantColor == c { colour += 1 } else { misses.append("colour \(c)→\(String(describing: j.dominantColor)) \(g) \(time)") }
                        if j.ground == g { ground += 1 } else { misses.append("ground \(g)→\(j.ground) \(time)") }
                        if j.shape == s { shape += 1 } else { misses.append("shape \(s)→\(String(describing: j.shape))") }
                    }
                }
            }
        }
        return ([colour, ground, shape].map { Double($0) / Double(total) }, misses)
    }

    /// In a scene of two objects, each object's own pixels read as its own colour, whatever
    /// colour covers more of the image; a region of bare ground reads as none.
    @Test func eachObjectOfTwoReadsAsItsOwnColour() {
        var hits = 0, total = 0
        for seed: UInt64 in 0..<6 {
            let scene = WorldScene(caption: "a red ball and a yellow cube on grass", seed: seed)!
            let r = WorldRenderer(scene: scene).render(camera: WorldExports.nerfCameras(views: 6)[Int(seed)], width: 64, height: 64)
            let image = RGBImage(width: 64, height: 64, pixels: r.bytes)
            for (k, object) in scene.objects.enumerated() {
                let region = r.objectIndex.map { $0 == UInt8(k + 1) }
                guard region.filter({ $0 }).count >= 20 else { continue }
                total += 1
                if Self.analyser.color(of: image, in: region) == object.color { hits += 1 }
            }
            let ground = r.objectIndex.enumerated().map { $0.element == Rendering.ground && $0.offset > 64 * 56 }
            #expect(Self.analyser.color(of: image, in: ground) == nil)
        }
        #expect(total >= 8 && hits == total, "\(hits) of \(total)")
    }

    /// Accuracy on real renders. Issue 3 asks for 98% on each; measured now: colour 0.983, ground
    /// 1.0, shape 0.988 (0.942 with the nearest-neighbour silhouette vote the shape classifier
    /// replaced; colour 0.967 before the shadow palette), which these bounds guard.
    @Test func accuracyOnRealRenders() {
        let (rates, misses) = Self.judgeRenders { $0 }
        print("analyser on 240 renders: colour \(rates[0]), ground \(rates[1]), shape \(rates[2])")
        #expect(rates[0] >= 0.975 && rates[1] >= 0.98 && rates[2] >= 0.98, "colour \(rates[0]) ground \(rates[1]) shape \(rates[2]); e.g. \(misses.prefix(12))")
    }

    /// The same renders box-blurred, as soft as the prior's samples: shape must hold up.
    /// Measured: radius 1: colour 0.979, ground 1.0, shape 0.983; radius 2: 0.900, 1.0, 0.954
    /// (shape 0.913 and 0.821 with the nearest-neighbour vote; colour 0.937 and 0.816 before the
    /// shadow palette).
    @Test(arguments: [(1, 0.96, 0.97), (2, 0.88, 0.94)])
    func accuracyOnSoftenedRenders(radius: Int, colourBound: Double, shapeBound: Double) {
        let (rates, misses) = Self.judgeRenders { $0.boxBlurred(radius: radius) }
        print("analyser on 240 renders blurred by \(radius): colour \(rates[0]), ground \(rates[1]), shape \(rates[2])")
        #expect(rates[0] >= colourBound && rates[1] >= 0.98 && rates[2] >= shapeBound,
                "radius \(radius): colour \(rates[0]) ground \(rates[1]) shape \(rates[2]); e.g. \(misses.prefix(12))")
    }

    /// What a person sees in one generated tile; nil where it could not be told.
    struct PersonLabel: Decodable {
        let caption: String
        let color: String?, shape: String?, ground: String?
    }

    struct PersonLabels: Decodable { let tiles: [PersonLabel] }

    /// On the prior's own samples the analyser is checked against a person's labels
    /// (`Fixtures/generated-22000.png`, 96 tiles of `csd eval prior --grid` at 22,000 steps, and
    /// `generated-22000-labels.json`). Measured: colour 91/92, ground 93/96, shape 93/94 (77/94 with
    /// the nearest-neighbour silhouette vote, which read cubes and cylinders as balls or as each
    /// other; colour 90 before the shadow palette): the judge's figures can be read as the prior's.
    @Test func agreesWithAPersonOnGeneratedImages() throws {
        let folder = try #require(Bundle.module.resourcePath).appending("/Fixtures")
        let grid = try RGBImage(pngPath: "\(folder)/generated-22000.png")
        let labels = try JSONDecoder().decode(PersonLabels.self,
                                              from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/generated-22000-labels.json"))).tiles
        #expect(labels.count == 96 && grid.width == 12 * 64 && grid.height == 8 * 64)
        var (agree, labelled) = ([0, 0, 0], [0, 0, 0])
        for (i, label) in labels.enumerated() {
            var tile = [UInt8](repeating: 0, count: 64 * 64 * 3)
            for y in 0..<64 {
                let row = ((i / 12) * 64 + y) * grid.width + (i % 12) * 64
                tile.replaceSubrange((y * 64 * 3)..<((y + 1) * 64 * 3), with: grid.pixels[(row * 3)..<((row + 64) * 3)])
            }
            let j = Self.analyser.judge(RGBImage(width: 64, height: 64, pixels: tile))
            for (k, (seen, verdict)) in [(label.color, j.dominantColor?.rawValue), (label.shape, j.shape?.rawValue),
                                          (label.ground, Optional(j.ground.rawValue))].enumerated() {
                guard let seen else { continue }
                labelled[k] += 1
                if seen == verdict { agree[k] += 1 }
            }
        }
        print("analyser against a person on 96 generated tiles: colour \(agree[0])/\(labelled[0]), shape \(agree[1])/\(labelled[1]), ground \(agree[2])/\(labelled[2])")
        #expect(Double(agree[0]) >= 0.95 * Double(labelled[0]) && Double(agree[2]) >= 0.95 * Double(labelled[2]),
                "colour \(agree[0])/\(labelled[0]), ground \(agree[2])/\(labelled[2])")
        #expect(Double(agree[1]) >= 0.95 * Double(labelled[1]), "shape \(agree[1])/\(labelled[1])")
    }
}

