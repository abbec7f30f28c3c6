import Foundation

/// A training shard of captioned square RGB images, as `csd world dataset` writes it: the
/// tensor `images` (uint8, [N, size, size, 3]) and the metadata `captions` (a JSON list of N strings).
public struct CaptionedImages {
    public let path: String
    /// The images' bytes, image after image, rows of RGB.
    public let pixels: [UInt8]
    public let captions: [String]
    public let count: Int, size: Int

    public init(path: String) throws {
        let file = try SafetensorsFile(path: path)
        guard let entry = file.entries["images"] else { throw InputError(path, "has no 'images' tensor (a shard from `csd world dataset`)") }
        guard entry.dtype == .u8, entry.shape.count == 4, entry.shape[3] == 3, entry.shape[1] == entry.shape[2],
              entry.shape[0] >= 1, entry.shape[1] >= 1 else {
            throw InputError(path, "'images' must be uint8 [N, size, size, 3], not \(entry.dtype.rawValue) \(entry.shape)")
        }
        guard let json = file.metadata["captions"], let data = json.data(using: .utf8),
              let captions = try? JSONDecoder().decode([String].self, from: data) else {
            throw InputError(path, "has no 'captions' metadata (a JSON list of strings)")
        }
        guard captions.count == entry.shape[0] else {
            throw InputError(path, "has \(captions.count) captions for \(entry.shape[0]) images")
        }
        self.path = path
        pixels = [UInt8](try file.rawTensor("images").bytes)
        self.captions = captions
        (count, size) = (entry.shape[0], entry.shape[1])
    }
}
