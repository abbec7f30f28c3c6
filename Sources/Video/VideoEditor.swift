import CSD
import Core
import Foundation

/// Edits a video so that the edit agrees from frame to frame: the frames go through the model in
/// overlapping windows, each window's frames are particles coupled by CSD (or edited on their own
/// by DDS), and the frames a window shares with the previous one are held as fixed particles.
/// Each edit at working size is carried back to the frame's own size as a difference upsampled
/// along the frame's edges; the audio is copied.
///
/// The video is streamed: a window's frames are decoded when it starts, and each frame goes to
/// the encoder once its window is done, so memory holds one window, whatever the video's length.
///
/// Checkpoints (`EditOutputFiles`): every finished window is written once to a file of its own,
/// and the window being edited to one more, so a resume costs the work done, not the video's
/// length per window. Without checkpoints (`checkpointEvery` 0) a stopped video edit leaves
/// nothing to resume from: the finished windows are no longer held.
public struct VideoEditor {
    public let model: DiffusionModel
    public let configuration: Configuration

    public init(model: DiffusionModel, configuration: Configuration) throws {
        (self.model, self.configuration) = (model, try configuration.validated())
    }

    /// Edits the video at `input` and writes it to `output` (its container by the extension, the
    /// codec `configuration.codec`). Warnings (streams converted or left out) go to `warn`.
    public func edit(input: String, writingTo output: String, run: EditRun = EditRun(),
                     warn: (String) -> Void = { _ in }) throws -> (outcome: EditOutcome, report: Report) {
        let c = configuration, settings = c.settings
        let reader = try VideoReader(path: input)
        // The plan a stream cannot know before its end: the progress total and the sheet's frames.
        let plannedFrames = try VideoReader.countPackets(path: input)
        let frames = FramesInFlight(reader: reader, model: model) { width, height in
            try WorkingSize(width: width, height: height, shortSide: c.workingSize, model: model, input: input)
        }
        guard try frames.has(0) else { throw InputError(input, "holds no decodable video frames") }
        let first = frames[0].video.image
        let advance = c.window - c.overlap
        // Window k starts at k·advance and exists when it is the first or a frame lies past its
        // overlap with the previous one; it holds the frames up to `window` from its start.
        func windowExists(_ k: Int) throws -> Bool { k == 0 ? true : try frames.has(k * advance + c.overlap) }
        func windowRange(_ k: Int) throws -> Range<Int> {
            _ = try frames.has(k * advance + c.window - 1)
            return (k * advance)..<min(frames.decoded, k * advance + c.window)
        }
        let plannedWindows = Array(stride(from: 0, to: max(1, plannedFrames - c.overlap), by: advance)).count
        let label = "editing \(plannedFrames) frames"
        var total = plannedWindows * settings.steps
        let files = EditOutputFiles(output: output)
        let (windowCheckpoint, finishedWindows) = (files.windowCheckpoint, files.finishedWindows)
        func finishedPath(_ k: Int) -> String { "\(finishedWindows)/window-\(String(format: "%05d", k)).safetensors" }
        // Every window file carries its source frames' fingerprint and its window's index and
        // frames: a kill between finishing a window and removing the in-window file leaves a window
        // file the next resume sees as stale.
        func fingerprint(_ range: Range<Int>) -> String { Tensor.fingerprint(range.map { frames[$0].source }) }
        files.removeStrayTemporaries()
        if !run.resume { AtomicFile.remove(finishedWindows) }   // another edit's windows
        if run.resume {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: finishedWindows)) ?? [] where name.hasPrefix(".") {
                try? FileManager.default.removeItem(atPath: "\(finishedWindows)/\(name)")   // a killed write's temporary
            }
        }
        // Rotation is applied to the frames, so the pixel's shape turns with them.
        let aspect = reader.rotation % 180 == 0 ? reader.sampleAspectRatio : (reader.sampleAspectRatio.height, reader.sampleAspectRatio.width)
        // An alpha channel is carried where the codec holds one (by default one is chosen that does).
        let outputExtension = URL(fileURLWithPath: output).pathExtension
        let codec = c.codec ?? VideoCodec.default(forExtension: outputExtension, alpha: first.alpha != nil)
        if first.alpha != nil, !codec.holdsAlpha {
            warn("\(input): its alpha channel is left out: \(codec.displayName) holds none (VP9 in .webm and ProRes in .mov or .mkv do)")
        }
        let writer = try VideoWriter(path: output, width: first.width, height: first.height, frameRate: reader.frameRate, codec: codec, crf: c.crf, preset: c.preset,
                                     bitDepth: reader.bitDepth > 8 ? 10 : 8, alpha: first.alpha != nil && codec.holdsAlpha, audioFrom: input,
                                     sampleAspectRatio: aspect, colour: reader.colour, startTime: reader.startTime)
        writer.streamNotes.forEach(warn)
        var (written, sheetTop, sheetBottom) = (0, [RGBImage](), [RGBImage]())
        let sheetEvery = max(1, plannedFrames / 8)
        /// Encodes the frames of `range` not yet written, then forgets those no later window needs.
        func write(_ range: Range<Int>, keepingFrom next: Int) throws {
            for i in max(written, range.lowerBound)..<range.upperBound {
                let frame = frames[i]
                let picture = model.toImages(frame.edited).clamped(to: -1...1)
                // Carried to full size along the frame's own edges (joint bilateral upsampling): on
                // world videos this cut the fringe around edited objects by a fifth against
                // plain bilinear upsampling (docs/notebook/video.md).
                let change: Tensor = (picture - frame.original).item(0)
                let difference = change.carried(to: frame.video.image, lowGuide: frame.original.item(0))
                let result: RGBImage
                if let deep = frame.video.deep {
                    // More than 8 bits a sample in: the difference goes onto all of them, and out in 10.
                    let edited = deep.applying(difference: difference)
                    result = edited.eightBit
                    try writer.append(edited, time: frame.video.time)
                } else {
                    result = frame.video.image.applying(difference: difference)
                    try writer.append(result, time: frame.video.time)
                }
                if i % sheetEvery == 0 && sheetTop.count < 8 {
                    sheetTop.append(frame.video.image.thumbnail(height: 128))
                    sheetBottom.append(result.thumbnail(height: 128))
                }
            }
            written = max(written, range.upperBound)
            frames.drop(below: next)
        }
        var report = Report()
        // Windows are read back from their files while they last (on resume), then edited.
        var loading = run.resume
        var k = 0
        // A stream that fails partway (damaged or truncated) ends the edit with the reader's
        // error, naming the frame; the windows finished before it stay as the checkpoint.
        do {
            while try windowExists(k) {
                let range = try windowRange(k)
                let shape = frames[range.lowerBound].source.shape
                let windowFingerprint = fingerprint(range)
                let next = (k + 1) * advance
                if loading, FileManager.default.fileExists(atPath: finishedPath(k)) {
                    let path = finishedPath(k)
                    let file = try SafetensorsFile(path: path)
                    guard file.metadata["source"] == windowFingerprint, file.metadata["window"] == "\(k)",
                          file.metadata["frames"] == "\(range.lowerBound)..<\(range.upperBound)",
                          file.entries["frames"]?.shape == [range.count] + Array(shape.dropFirst()) else {
                        throw InputError(path, "does not belong to this video and these settings; rerun without --resume")
                    }
                    let saved = try file.tensor("frames")
                    for (j, f) in range.enumerated() { frames[f].edited = saved.item(j).reshaped(shape) }
                    try write(range, keepingFrom: next)
                    k += 1
                    continue
                }
                let resumingWindow = loading
                loading = false
                let windowMetadata = ["window": "\(k)", "source": windowFingerprint]
                let editor = try ParticleEditor(model: model, settings: settings, source: Tensor.concatenateBatch(range.map { frames[$0].source }),
                                                sourcePrompt: c.sourcePrompt, targetPrompt: c.targetPrompt)
                editor.setParticles(Tensor.concatenateBatch(range.map { frames[$0].edited }))
                if c.masksEdit { editor.masksEditWhereLocal(pictures: Tensor.concatenateBatch(range.map { frames[$0].original })) }
                // Frames the previous window edited are carried as fixed particles.
                editor.fixed = range.map { k > 0 && $0 < (k - 1) * advance + c.window }
                if resumingWindow, FileManager.default.fileExists(atPath: windowCheckpoint) {
                    let saved = try SafetensorsFile(path: windowCheckpoint).metadata
                    if saved["window"] == windowMetadata["window"], saved["source"] == windowFingerprint {
                        try editor.loadCheckpoint(from: windowCheckpoint)
                    } else {
                        AtomicFile.remove(windowCheckpoint)
                    }
                }
                // The plan counted the container's packets; the stream decides.
                if frames.ended { total = Array(stride(from: 0, to: max(1, frames.decoded - c.overlap), by: advance)).count * settings.steps }
                let firstStep = editor.step
                while editor.step < settings.steps {
                    editor.advance()
                    let done = k * settings.steps + editor.step
                    run.progress(EditProgress(label: label, step: done, total: max(total, done), statistics: editor.lastStatistics))
                    if run.saves(atStep: done) { try editor.particleGrid().writePNG(to: EditRun.intermediatePath(of: output, step: done)) }
                    if run.checkpointEvery > 0 && editor.step % run.checkpointEvery == 0 {
                        try editor.saveCheckpoint(to: windowCheckpoint, metadata: windowMetadata)
                    }
                    if run.shouldStop(done) {
                        guard run.checkpointEvery > 0 else { return (.stopped(step: done, checkpoints: []), report) }
                        try editor.saveCheckpoint(to: windowCheckpoint, metadata: windowMetadata)
                        return (.stopped(step: done, checkpoints: [windowCheckpoint, finishedWindows]), report)
                    }
                }
                report.secondsAdvancing += editor.secondsAdvancing
                report.secondsInSteinUpdate += editor.secondsInSteinUpdate
                report.windowSteps += editor.step - firstStep
                report.frameSteps += range.count * (editor.step - firstStep)
                for (j, f) in range.enumerated() { frames[f].edited = editor.particles.item(j).reshaped(shape) }
                // The finished window is recorded first, then the in-window file goes: a kill
                // between the two leaves a window file for a window already done, which is stale.
                // Without checkpoints nothing is written per window (no resume was asked for).
                if run.checkpointEvery > 0 {
                    try AtomicFile.createFolder(finishedWindows)
                    try SafetensorsFile.write(["frames": Tensor.concatenateBatch(range.map { frames[$0].edited })],
                                              metadata: ["window": "\(k)", "source": windowFingerprint, "frames": "\(range.lowerBound)..<\(range.upperBound)"],
                                              to: finishedPath(k))
                    AtomicFile.remove(windowCheckpoint)
                }
                try write(range, keepingFrom: next)
                k += 1
            }
        } catch let error as InputError where error.subject == input && run.checkpointEvery > 0 && k > 0 {
            let kept = try? FileManager.default.contentsOfDirectory(atPath: finishedWindows).filter { $0.hasSuffix(".safetensors") }.count
            throw InputError(input, error.problem + "; the \(kept ?? k) windows edited before it are kept in \(finishedWindows) (--resume continues from them once the input reads whole)")
        }
        try writer.finish()
        if let sheet = c.contactSheet {
            try RGBImage.grid(sheetTop + sheetBottom, columns: sheetTop.count).writePNG(to: sheet)
        }
        files.removeCheckpoints()
        return (.finished, report)
    }
}
