import Core

extension VideoEditor {
    /// The frames a streamed edit holds: each is decoded when a window first needs it and dropped
    /// once written and no later window needs it, so memory follows the window, not the video.
    final class FramesInFlight {
        struct Frame {
            var video: VideoFrame
            /// At working size, in [-1, 1].
            var original: Tensor
            /// In the model's space: the unedited source and the edit so far.
            var source: Tensor, edited: Tensor
        }

        private let reader: VideoReader
        private let model: DiffusionModel
        private let workingSize: (Int, Int) throws -> WorkingSize
        /// The working size, known once the first frame is decoded.
        private(set) var size: WorkingSize?
        private var held: [Int: Frame] = [:]
        /// Frames decoded so far; the video has exactly this many once `ended`.
        private(set) var decoded = 0
        private(set) var ended = false

        init(reader: VideoReader, model: DiffusionModel, workingSize: @escaping (Int, Int) throws -> WorkingSize) {
            (self.reader, self.model, self.workingSize) = (reader, model, workingSize)
        }

        /// Decodes up to frame `index`; whether the video has it.
        func has(_ index: Int) throws -> Bool {
            while decoded <= index && !ended {
                guard let frame = try reader.nextFrame() else { ended = true; break }
                let size = try self.size ?? workingSize(frame.image.width, frame.image.height)
                self.size = size
                let original = frame.image.workingTensor(width: size.width, height: size.height)
                let source = model.toModelSpace(original)
                held[decoded] = Frame(video: frame, original: original, source: source, edited: source)
                decoded += 1
            }
            return index < decoded
        }

        subscript(index: Int) -> Frame {
            get { held[index]! }
            set { held[index] = newValue }
        }

        /// Forgets every frame before `index`.
        func drop(below index: Int) {
            for key in held.keys where key < index { held[key] = nil }
        }
    }
}
