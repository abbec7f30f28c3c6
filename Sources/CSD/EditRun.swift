import Core
import Foundation

/// One step of an edit done, as a pipeline reports it.
public struct EditProgress: Sendable {
    /// What is being edited, e.g. "editing 24 frames".
    public var label: String
    /// Steps done so far, of `total`, counting every window or view pass.
    public var step: Int, total: Int
    /// What the step did, where the editor measures it.
    public var statistics: EditStepStatistics?

    public init(label: String, step: Int, total: Int, statistics: EditStepStatistics? = nil) {
        (self.label, self.step, self.total, self.statistics) = (label, step, total, statistics)
    }
}

/// How an edit ended.
public enum EditOutcome: Equatable, Sendable {
    /// The output is written and the checkpoints are gone.
    case finished
    /// `EditRun.shouldStop` stopped it after `step` steps; `checkpoints` hold what a resume needs.
    case stopped(step: Int, checkpoints: [String])
}

/// How a pipeline runs an edit's steps, the same for every editor: whom it tells of progress,
/// when it stops early, how often it checkpoints and whether it resumes.
public struct EditRun {
    /// Called after every step.
    public var progress: (EditProgress) -> Void
    /// Asked after every step with the steps done in total; true stops the edit there, as an
    /// interruption would, after writing its checkpoint (cancellation).
    public var shouldStop: (Int) -> Bool
    /// Write a checkpoint every this many steps (0: never).
    public var checkpointEvery: Int
    /// Continue from the output's checkpoint when there is one.
    public var resume: Bool
    /// Write the edit's current result every this many steps (0: never), as OUTPUT.stepNNNN.png.
    public var saveEvery: Int

    public init(progress: @escaping (EditProgress) -> Void = { _ in }, shouldStop: @escaping (Int) -> Bool = { _ in false },
                checkpointEvery: Int = 25, resume: Bool = false, saveEvery: Int = 0) {
        (self.progress, self.shouldStop, self.checkpointEvery, self.resume, self.saveEvery) = (progress, shouldStop, checkpointEvery, resume, saveEvery)
    }

    /// Runs `editor` to `total` steps: resumes from `checkpoint` when asked, writes it every
    /// `checkpointEvery` steps and when stopped, and calls `afterStep` with the step done.
    public func drive(_ editor: ResumableEdit, total: Int, label: String, checkpoint: String,
                      afterStep: (Int) throws -> Void = { _ in }) throws -> EditOutcome {
        AtomicFile.removeStrayTemporaries(of: checkpoint)
        if resume, FileManager.default.fileExists(atPath: checkpoint) { try editor.loadCheckpoint(from: checkpoint) }
        while editor.step < total {
            editor.advance()
            progress(EditProgress(label: label, step: editor.step, total: total, statistics: editor.lastStatistics))
            try afterStep(editor.step)
            if shouldStop(editor.step) {
                try editor.saveCheckpoint(to: checkpoint)
                return .stopped(step: editor.step, checkpoints: [checkpoint])
            }
            if checkpointEvery > 0 && editor.step % checkpointEvery == 0 && editor.step < total {
                try editor.saveCheckpoint(to: checkpoint)
            }
        }
        return .finished
    }

    /// Whether `step` is one `saveEvery` asks to write.
    public func saves(atStep step: Int) -> Bool { saveEvery > 0 && step % saveEvery == 0 }

    /// The path of the intermediate result of `output` at `step`.
    public static func intermediatePath(of output: String, step: Int) -> String { String(format: "%@.step%04d.png", output, step) }
}
