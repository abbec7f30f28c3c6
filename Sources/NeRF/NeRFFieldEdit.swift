import CSD
import Core
import Foundation

/// A NeRF edit run one step at a time: `NeRFEditor` (csd, dds) or `NeRFDatasetUpdate`.
public protocol NeRFFieldEdit: ResumableEdit {
    /// The field as edited so far.
    var field: GridRadianceField { get }
}

extension NeRFEditor: NeRFFieldEdit {}
extension NeRFDatasetUpdate: NeRFFieldEdit {}

public enum NeRFFieldEdits {
    /// The editor `settings.method` names, for `field` seen by `cameras` (at the model's working
    /// size) whose training `images` a dataset update starts from (resized to the cameras' size).
    public static func make(model: DiffusionModel, field: GridRadianceField, cameras: [NeRFCamera], images: [RGBImage], settings: NeRFEditSettings,
                            sourcePrompt: String, targetPrompt: String) throws -> NeRFFieldEdit {
        if settings.method.updatesDataset {
            let resized = zip(images, cameras).map { image, camera in
                image.width == camera.width && image.height == camera.height ? image
                    : RGBImage(tensor: image.tensor.reshaped([1, 3, image.height, image.width]).resized(height: camera.height, width: camera.width)
                        .item(0).clamped(to: -1...1))
            }
            return try NeRFDatasetUpdate(model: model, field: field, cameras: cameras, images: resized, settings: settings,
                                         sourcePrompt: sourcePrompt, targetPrompt: targetPrompt)
        }
        return try NeRFEditor(model: model, field: field, cameras: cameras, settings: settings, sourcePrompt: sourcePrompt, targetPrompt: targetPrompt)
    }
}
