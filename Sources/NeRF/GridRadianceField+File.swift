import Core
import Foundation

extension GridRadianceField {
    static let fileFormat = "csd-grid-radiance-field"

    /// Writes the grid, environment and contraction as a safetensors file (atomically).
    public func write(to path: String) throws {
        let r = resolution
        let c = contraction
        try SafetensorsFile.write(["values": Tensor(shape: [r, r, r, 4], storage: linearValues),
                                   "environment": Tensor(shape: [environmentHeight, environmentWidth, 3], storage: environment)],
                                  metadata: ["format": Self.fileFormat, "center": "\(c.center.x),\(c.center.y),\(c.center.z)", "radius": "\(c.radius)"],
                                  to: path)
    }

    /// Reads a field written by `write(to:)`; the occupancy grid is rebuilt from its densities.
    public convenience init(path: String) throws {
        let file = try SafetensorsFile(path: path)
        guard file.metadata["format"] == Self.fileFormat else { throw InputError(path, "not a radiance field written by csd nerf fit") }
        let center = (file.metadata["center"] ?? "").split(separator: ",").compactMap { Float($0) }
        guard center.count == 3, center.allSatisfy(\.isFinite), let radius = file.metadata["radius"].flatMap(Float.init), radius.isFinite, radius > 0 else {
            throw InputError(path, "radiance field has no valid center and radius")
        }
        let values = try file.tensor("values"), environment = try file.tensor("environment")
        guard values.shape.count == 4, (2...512).contains(values.shape[0]), values.shape[0] == values.shape[1], values.shape[1] == values.shape[2],
              values.shape[3] == 4, environment.shape == [16, 32, 3] else { throw InputError(path, "radiance field tensors have the wrong shapes") }
        guard values.storage.allSatisfy(\.isFinite), environment.storage.allSatisfy(\.isFinite) else { throw InputError(path, "radiance field holds non-finite values") }
        self.init(resolution: values.shape[0], contraction: SceneContraction(center: SIMD3(center[0], center[1], center[2]), radius: radius))
        setLinearValues(values.storage)
        self.environment = environment.storage
        var occupancy = OccupancyGrid(resolution: 64)
        var rng = RandomGenerator(seed: 0)
        for _ in 0..<4 { occupancy.update(from: self, decay: 1, rng: &rng) }
        self.occupancy = occupancy
    }
}
