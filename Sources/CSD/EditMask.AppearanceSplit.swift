import Core

extension EditMask {
    /// A nearest-neighbour split of a source's cells between the looks of a region and those of
    /// the background: the region's looks are its core's (the region shrunk by `blur` cells, since
    /// a region read off a blurred map reaches `blur` cells into the background; all of it if
    /// nothing is left), the background's those of the cells farther than `reach + 2` from it.
    /// Each side keeps at most 512 looks, evenly spaced. A look is a cell's C channels of
    /// `source` [1, C, H, W].
    struct AppearanceSplit {
        let source: Tensor
        /// The cells whose looks stand for the region.
        let core: [Bool]
        let inside: [[Float]], outside: [[Float]]

        /// nil where the region is empty or nothing lies far enough from it.
        init?(region: [Bool], source: Tensor, reach: Int, blur: Int, wrap: Bool) {
            let (c, h, w) = (source.shape[1], source.shape[2], source.shape[3])
            precondition(region.count == h * w, "AppearanceSplit: region and source sizes differ")
            guard region.contains(true) else { return nil }
            let plane = h * w
            func looks(_ cells: [Int]) -> [[Float]] {
                let step = max(1, cells.count / 512)
                return Swift.stride(from: 0, to: cells.count, by: step).map { k in (0..<c).map { source.storage[$0 * plane + cells[k]] } }
            }
            let map = Tensor(shape: [1, 1, h, w], storage: region.map { $0 ? 1 : 0 })
            let surroundings = dilate(map, radius: reach + 2, wrap: wrap).storage.map { $0 > 0 }
            let nearOutside = dilate(Tensor(shape: [1, 1, h, w], storage: region.map { $0 ? 0 : 1 }), radius: blur, wrap: wrap).storage
            var core = region.indices.map { region[$0] && nearOutside[$0] == 0 }
            if !core.contains(true) { core = region }
            let outside = looks(surroundings.indices.filter { !surroundings[$0] })
            guard !outside.isEmpty else { return nil }
            (self.source, self.core, self.inside, self.outside) = (source, core, looks(core.indices.filter { core[$0] }), outside)
        }

        /// The squared distance from cell `cell`'s look to the nearest of `set`.
        private func nearest(_ cell: Int, _ set: [[Float]]) -> Float {
            let (c, plane) = (source.shape[1], source.shape[2] * source.shape[3])
            var best = Float.infinity
            for look in set {
                var d: Float = 0
                for ch in 0..<c { let e = source.storage[ch * plane + cell] - look[ch]; d += e * e }
                best = min(best, d)
            }
            return best
        }

        /// At least twice as far (four times the squared distance) from the background's looks as
        /// from the region's.
        func looksLikeRegion(_ cell: Int) -> Bool { 4 * nearest(cell, inside) < nearest(cell, outside) }

        /// At least twice as far from the region's looks as from the background's.
        func looksLikeBackground(_ cell: Int) -> Bool { 4 * nearest(cell, outside) < nearest(cell, inside) }
    }
}
