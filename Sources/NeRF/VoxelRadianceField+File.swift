import Core
import Foundation

extension VoxelRadianceField {
    /// Writes the grid, background and bounds as a safetensors file (atomically).
    public func write(to path: String) throws {
        let r = resolution
        try SafetensorsFile.write(["values": Tensor(shape: [r, r, r, 4], storage: values),
                                   "background": Tensor(shape: [3], storage: [background.x, background.y, background.z])],
                                  metadata: ["bounds_min": "\(boundsMin.x),\(boundsMin.y),\(boundsMin.z)",
                                             "bounds_max": "\(boundsMax.x),\(boundsMax.y),\(boundsMax.z)",
                                             "samples_per_ray": "\(samplesPerRay)", "format": "csd-voxel-radiance-field"],
                                  to: path)
    }

    /// Reads a field written by `write(to:)`.
    public convenience init(path: String) throws {
        let file = try SafetensorsFile(path: path)
        func vector(_ key: String) throws -> SIMD3<Float> {
            let parts = (file.metadata[key] ?? "").split(separator: ",").compactMap { Float($0) }
            guard parts.count == 3 else { throw InputError(path, "not a radiance field (no \(key))") }
            return SIMD3(parts[0], parts[1], parts[2])
        }
        guard file.metadata["format"] == "csd-voxel-radiance-field", let samples = file.metadata["samples_per_ray"].flatMap(Int.init) else {
            throw InputError(path, "not a radiance field written by csd nerf")
        }
        let values = try file.tensor("values"), background = try file.tensor("background")
        guard values.shape.count == 4, values.shape[0] >= 2, values.shape[0] == values.shape[1], values.shape[1] == values.shape[2],
              values.shape[3] == 4, background.shape == [3] else { throw InputError(path, "radiance field tensors have the wrong shapes") }
        self.init(resolution: values.shape[0], boundsMin: try vector("bounds_min"), boundsMax: try vector("bounds_max"), samplesPerRay: samples)
        self.values = values.storage
        self.background = SIMD3(background.storage[0], background.storage[1], background.storage[2])
    }
}
