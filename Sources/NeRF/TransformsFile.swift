import Core
import Foundation

/// The `transforms.json` of nerfstudio and of the Blender synthetic scenes, as read by
/// nerfstudio's `nerfstudio_dataparser.py`: intrinsics given once for all frames or per frame
/// (`fl_x`/`fl_y`/`cx`/`cy`/`w`/`h`, or `camera_angle_x`/`camera_angle_y`), OpenCV distortion
/// (`k1`…`k4`, `p1`, `p2`), `aabb_scale`, `applied_transform`, and `frames` with `file_path`
/// and `transform_matrix`. Keys are decoded from snake case.
public struct TransformsFile: Decodable, Sendable {
    /// Intrinsics that may be given at the top level or per frame.
    public struct Intrinsics: Decodable, Sendable {
        public var flX: Double?, flY: Double?, cx: Double?, cy: Double?, w: Double?, h: Double?
        public var cameraAngleX: Double?, cameraAngleY: Double?
        public var k1: Double?, k2: Double?, k3: Double?, k4: Double?, p1: Double?, p2: Double?
        public var cameraModel: String?

        /// Whether any intrinsic is given.
        var givesAny: Bool {
            [flX, flY, cx, cy, w, h, cameraAngleX, cameraAngleY, k1, k2, k3, k4, p1, p2].contains { $0 != nil }
        }

        /// `self` with what it leaves out taken from `fallback`.
        func over(_ fallback: Intrinsics) -> Intrinsics {
            Intrinsics(flX: flX ?? fallback.flX, flY: flY ?? fallback.flY, cx: cx ?? fallback.cx, cy: cy ?? fallback.cy,
                       w: w ?? fallback.w, h: h ?? fallback.h, cameraAngleX: cameraAngleX ?? fallback.cameraAngleX,
                       cameraAngleY: cameraAngleY ?? fallback.cameraAngleY, k1: k1 ?? fallback.k1, k2: k2 ?? fallback.k2,
                       k3: k3 ?? fallback.k3, k4: k4 ?? fallback.k4, p1: p1 ?? fallback.p1, p2: p2 ?? fallback.p2,
                       cameraModel: cameraModel ?? fallback.cameraModel)
        }
    }

    public struct Frame: Decodable, Sendable {
        public var filePath: String
        public var transformMatrix: [[Double]]
        public var intrinsics: Intrinsics

        enum CodingKeys: String, CodingKey { case filePath, transformMatrix }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            filePath = try c.decode(String.self, forKey: .filePath)
            transformMatrix = try c.decode([[Double]].self, forKey: .transformMatrix)
            intrinsics = try Intrinsics(from: decoder)
        }
    }

    public var intrinsics: Intrinsics
    public var frames: [Frame]
    public var aabbScale: Double?
    /// The transform nerfstudio's `ns-process-data` applied to the poses (3×4 or 4×4); recorded, not reapplied.
    public var appliedTransform: [[Double]]?

    enum CodingKeys: String, CodingKey { case frames, aabbScale, appliedTransform }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        frames = try c.decodeIfPresent([Frame].self, forKey: .frames) ?? []
        aabbScale = try c.decodeIfPresent(Double.self, forKey: .aabbScale)
        appliedTransform = try c.decodeIfPresent([[Double]].self, forKey: .appliedTransform)
        intrinsics = try Intrinsics(from: decoder)
    }

    /// Decodes `data`, naming the key at fault in the error.
    public static func decode(_ data: Data, file: String) throws -> TransformsFile {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(TransformsFile.self, from: data)
        } catch let error as DecodingError {
            throw InputError(file, Self.describe(error))
        } catch {
            throw InputError(file, "is not JSON")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            // Keys as the file spells them (the decoder converted them from snake case).
            func snake(_ name: String) -> String { name.map { $0.isUppercase ? "_\($0.lowercased())" : "\($0)" }.joined() }
            let text = keys.map { key in key.intValue.map { "[\($0)]" } ?? ".\(snake(key.stringValue))" }.joined()
            return text.isEmpty ? "the top level" : String(text.drop { $0 == "." })
        }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)) has the wrong type"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "is not JSON" : "\(path(context.codingPath)) is not valid"
        @unknown default:
            return "is not a transforms.json"
        }
    }
}

