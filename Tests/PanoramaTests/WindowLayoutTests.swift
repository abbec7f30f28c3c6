import Core
import Testing
@testable import Panorama

@Suite struct WindowLayoutTests {
    @Test func withoutWrapTheLastWindowEndsAtTheEdge() throws {
        let layout = try WindowLayout(width: 70, height: 8, window: 8, stride: 4, wrap: false)
        #expect(layout.origins.map(\.x) == Array(stride(from: 0, through: 60, by: 4)) + [62])
        #expect(layout.origins.allSatisfy { $0.x + 8 <= 70 })
    }

    @Test func withWrapWindowsCrossTheRightEdge() throws {
        let layout = try WindowLayout(width: 64, height: 8, window: 8, stride: 4, wrap: true)
        #expect(layout.origins.map(\.x) == Array(stride(from: 0, to: 64, by: 4)))
        var rng = RandomGenerator(seed: 1)
        let t = rng.normal([1, 3, 8, 64])
        let last = layout.extract(t, layout.origins.count - 1)  // columns 60...63 then 0...3
        #expect(last.storage[4] == t.storage[0] && last.storage[0] == t.storage[60])
    }

    @Test(arguments: [false, true])
    func scatteringTheExtractedWindowsGivesThePanoramaBack(wrap: Bool) throws {
        let layout = try WindowLayout(width: 40, height: 12, window: 8, stride: 3, wrap: wrap)
        var rng = RandomGenerator(seed: 2)
        let t = rng.normal([1, 4, 12, 40])
        let back = layout.scatterAverage(layout.origins.indices.map { ($0, layout.extract(t, $0)) }, channels: 4)
        #expect(back.maxAbsDifference(t) < 1e-5)
    }

    /// How many of a phase's windows cover each cell.
    func coverCount(_ layout: WindowLayout, _ chosen: [Int]) -> [Int] {
        var count = [Int](repeating: 0, count: layout.width * layout.height)
        for i in chosen {
            let (ox, oy) = layout.origins[i]
            for y in 0..<layout.window { for x in 0..<layout.window { count[(oy + y) * layout.width + (ox + x) % layout.width] += 1 } }
        }
        return count
    }

    @Test func aWrappedTilingCoversEveryCellOnceAndShiftsByAStride() throws {
        let layout = try WindowLayout(width: 64, height: 8, window: 8, stride: 2, wrap: true)
        #expect(layout.tilingPhases == 4)
        var seen = [Int]()
        for phase in 0..<layout.tilingPhases {
            let chosen = layout.tiling(phase: phase)
            #expect(chosen.count == 8)
            #expect(coverCount(layout, chosen).allSatisfy { $0 == 1 }, "phase \(phase)")
            #expect(chosen.allSatisfy { layout.origins[$0].x % 8 == 2 * phase })
            seen += chosen
        }
        #expect(seen.sorted() == Array(layout.origins.indices), "every window once per cycle")
        #expect(layout.tiling(phase: 4) == layout.tiling(phase: 0))
    }

    @Test func anUnwrappedTilingStillReachesEveryCell() throws {
        let layout = try WindowLayout(width: 21, height: 13, window: 8, stride: 2, wrap: false)
        #expect(layout.tilingPhases == 16)
        for phase in 0..<8 {
            #expect(coverCount(layout, layout.tiling(phase: phase)).allSatisfy { $0 >= 1 }, "phase \(phase)")
        }
    }

    @Test func badLayoutsAreOneLineErrors() {
        #expect(throws: InputError.self) { try WindowLayout(width: 64, height: 8, window: 8, stride: 9, wrap: false) }
        #expect(throws: InputError.self) { try WindowLayout(width: 6, height: 8, window: 8, stride: 4, wrap: false) }
        do { _ = try WindowLayout(width: 64, height: 8, window: 8, stride: 9, wrap: false) } catch let e as InputError {
            #expect(e.description.contains("larger than the window") && !e.description.contains("\n"))
        } catch {}
    }
}

@Suite struct FeatheredScatterTests {
    @Test func aRandomSubsetIsAnUnbiasedFadingEstimateOfTheFullAverage() throws {
        let layout = try WindowLayout(width: 32, height: 8, window: 8, stride: 2, wrap: true)
        let ones = Tensor(shape: [1, 1, 8, 8], repeating: 1)
        // All windows: the feathered average of ones is one everywhere.
        let all = layout.scatterAverage(layout.origins.indices.map { ($0, ones) }, channels: 1)
        #expect(all.storage.allSatisfy { abs($0 - 1) < 1e-5 })
        // One window of 16: its contribution fades towards its edges (no hard step)...
        let one = layout.scatterAverage([(5, ones)], channels: 1)
        let row = (0..<32).map { one.storage[3 * 32 + $0] }
        #expect(row[10] < row[12] && row[12] < row[13] && row[17] < row[14], "\(row)")
        #expect(row[9] == 0 && row[18] == 0)
        #expect(row[10] < 0.25 * row[14], "the edge cell is a fraction of the middle one")
        // ...and averaged over every choice of one window it is the full average.
        var mean = Tensor(zeros: [1, 1, 8, 32])
        for i in layout.origins.indices { mean.add(layout.scatterAverage([(i, ones)], channels: 1).scaled(by: 1 / Float(layout.origins.count))) }
        #expect(mean.maxAbsDifference(all) < 1e-5)
    }
}
