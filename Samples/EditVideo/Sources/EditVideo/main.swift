// Edits a video from "a red ball on grass" to "a blue ball on grass" with csd's VideoEditor.
// Usage: edit-video INPUT.mp4 OUTPUT.mp4 [MODEL (default Models/prior)] [STEPS (default 60)]
import CSD
import Core
import Foundation
import Video

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { print("usage: edit-video INPUT.mp4 OUTPUT.mp4 [MODEL] [STEPS]"); exit(2) }
let model = try DiffusionModel(path: arguments.count > 3 ? arguments[3] : "Models/prior")
var configuration = VideoEditor.Configuration(sourcePrompt: "a red ball on grass", targetPrompt: "a blue ball on grass")
configuration.settings.steps = arguments.count > 4 ? Int(arguments[4]) ?? 60 : 60
let run = EditRun(progress: { if $0.step % 10 == 0 { print("\($0.label): \($0.step)/\($0.total)") } })
let (outcome, report) = try VideoEditor(model: model, configuration: configuration).edit(input: arguments[1], writingTo: arguments[2], run: run)
print(outcome == .finished ? "wrote \(arguments[2]) (\(report.frameSteps) frame-steps)" : "stopped: \(outcome)")
