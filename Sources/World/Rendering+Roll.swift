/// A 360° rendering rolled sideways: the same scene with the camera turned.
extension Rendering {
    /// The rendering with column `x` taken from column `(x + columns) mod width`, for a 360°
    /// panorama the camera turned right by `columns` pixels of azimuth (the picture moves left).
    /// Negative values turn left.
    public func rolled(columns: Int) -> Rendering {
        let shift = ((columns % width) + width) % width
        var rolled = self
        for y in 0..<height {
            for x in 0..<width {
                let (to, from) = (y * width + x, y * width + (x + shift) % width)
                rolled.objectIndex[to] = objectIndex[from]
                for c in 0..<3 { rolled.rgb[3 * to + c] = rgb[3 * from + c] }
            }
        }
        return rolled
    }
}
