import CSD
import Core
import Foundation
import Video

/// `csd-bench --video-memory`: the peak memory of a video edit against the video's length. Each
/// size gets a short and a long source video; each is edited one step per window with the bundled
/// prior, in a process of its own (the kernel's peak is per process), and the long edit's peak is
/// reported as a ratio of the short one's.
enum VideoMemoryBench {
    /// Writes `frames` frames of `width`×`height` to `path`: a colour gradient with a bright square
    /// crossing it, so the encoder has motion to code.
    static func makeVideo(path: String, width: Int, height: Int, frames: Int) throws {
        try VideoWriter.write(frames: frames, width: width, height: height, frameRate: 30, to: path) { k in
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            let side = max(8, height / 4)
            let (sx, sy) = ((k * 7) % max(1, width - side), (height - side) / 2)
            pixels.withUnsafeMutableBufferPointer { p in
                for y in 0..<height {
                    for x in 0..<width {
                        let i = (y * width + x) * 3
                        let inside = x >= sx && x < sx + side && y >= sy && y < sy + side
                        p[i] = inside ? 230 : UInt8(40 + 120 * x / width)
                        p[i + 1] = inside ? 60 : UInt8(90 + 100 * y / height)
                        p[i + 2] = inside ? 40 : 70
                    }
                }
            }
            return RGBImage(width: width, height: height, pixels: pixels)
        }
    }

    /// In the child process: edits `input` (one step per window, the default windows, a 16-pixel
    /// working short side so that the long videos take minutes) and reports the peak resident
    /// memory. What grows with a video's length is what it holds at full size, which the working
    /// size does not change.
    static func editOnce(input: String, model path: String) throws -> [String: Any] {
        let model = try DiffusionModel(path: path)
        var configuration = VideoEditor.Configuration(sourcePrompt: "a red square", targetPrompt: "a blue square")
        (configuration.settings.steps, configuration.workingSize) = (1, 16)
        let output = NSTemporaryDirectory() + "csd-bench-video-\(getpid()).mp4"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let start = Date()
        let (_, report) = try VideoEditor(model: model, configuration: configuration).edit(input: input, writingTo: output, run: EditRun(checkpointEvery: 0))
        return ["peak_mb": BenchCase.peakResidentMegabytes(), "seconds": Date().timeIntervalSince(start), "frame_steps": report.frameSteps]
    }

    /// For each size, the edit's peak memory at each frame count, and the longest's peak against
    /// the shortest's.
    static func measure(sizes: [(Int, Int)], frameCounts: [Int], model: String, log: (String) -> Void) throws -> [[String: Any]] {
        let folder = try ScratchFolder.create(prefix: "csd-bench-video-memory")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var rows = [[String: Any]]()
        for (width, height) in sizes {
            var row: [String: Any] = ["size": "\(width)x\(height)"]
            var peaks = [Int: Double]()
            for frames in frameCounts {
                let video = "\(folder)/\(width)x\(height)-\(frames).mp4"
                try makeVideo(path: video, width: width, height: height, frames: frames)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
                process.arguments = ["--run-once", "video-edit", "--video-input", video, "--model", model]
                let out = Pipe()
                process.standardOutput = out
                try process.run()
                let data = out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                try? FileManager.default.removeItem(atPath: video)
                guard process.terminationStatus == 0, let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let peak = object["peak_mb"] as? Double else {
                    throw InputError("csd-bench --video-memory", "the edit of \(frames) frames at \(width)×\(height) failed")
                }
                peaks[frames] = peak
                row["peak_mb_\(frames)_frames"] = peak
                row["seconds_\(frames)_frames"] = object["seconds"]
                log(String(format: "%d×%d, %d frames: peak %.0f MB, %.0f s", width, height, frames, peak, object["seconds"] as? Double ?? 0))
            }
            if let short = frameCounts.min(), let long = frameCounts.max(), let a = peaks[short], let b = peaks[long], a > 0 {
                row["peak_ratio"] = b / a
                log(String(format: "%d×%d: %d frames peak at %.2f× the %d frames' peak", width, height, long, b / a, short))
            }
            rows.append(row)
        }
        return rows
    }
}
