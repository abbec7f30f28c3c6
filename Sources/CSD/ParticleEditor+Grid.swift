import Core

extension ParticleEditor {
    /// The particles at working size as one grid of up to 8 columns.
    public func particleGrid() -> RGBImage {
        let images = model.toImages(particles).clamped(to: -1...1)
        let pictures = (0..<images.shape[0]).map { RGBImage(tensor: images.item($0)) }
        return RGBImage.grid(pictures, columns: min(pictures.count, 8))
    }
}
