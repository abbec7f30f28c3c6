import ArgumentParser
import Core
import Foundation

/// `csd train`: models trained in Swift.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train models in Swift.", subcommands: [Prior.self])

    struct Prior: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Go on training a pixel-space text-to-image model (such as Models/prior) on a shard of captioned renders, with Tools/train_prior.py's recipe.",
            discussion: """
            Each step draws a batch from the shard (seeded by --seed and the step), noises it, and takes \
            an AdamW step on the UNet and text encoder by the min-SNR-weighted noise-prediction loss, \
            with the gradient's norm clipped to 1, a 500-step warm-up and an EMA of the weights. The \
            EMA weights are exported as a diffusers folder. `Tools/train_prior.py --plan-seed` draws \
            the same batches, for comparing the two.
            """)

        @Option(help: "Shard of captioned renders (`csd world dataset`).") var data: String
        @Option(help: "Model folder to start from (diffusers layout, pixel space); its training.json's steps count as done.")
        var initFrom: String = "Models/prior"
        @Flag(help: "Start from new weights (PyTorch's initialisation, seeded by --seed) of --init-from's architecture, at step 0.")
        var fromScratch = false
        @Option(name: .shortAndLong, help: "Output folder for the EMA weights (diffusers layout).") var output: String
        @Option(help: "Steps to take in this run.") var steps: Int = 300
        @Option(help: "Images per step.") var batch: Int = 16
        @Option(help: "AdamW's learning rate after the warm-up.") var lr: Float = 1e-4
        @Option(help: "Step (counted with the initial model's) at which a linear cool-down begins.") var cooldownFrom: Int?
        @Option(help: "Length of the cool-down.") var cooldownSteps: Int = 10_000
        @Option(help: "Learning rate at the end of the cool-down.") var cooldownTo: Float = 5e-5
        @Option(help: "Decay of the weights' EMA.") var ema: Float = 0.999
        @Option(help: "γ of the min-SNR loss weighting.") var minSnrGamma: Float = 5
        @Option(help: "Share of captions dropped to the empty prompt.") var captionDropout: Float = 0.1
        @Option(help: "Seed of every step's draws.") var seed: UInt64 = 0
        @Option(help: "Write every step's loss here (TSV: step, loss).") var lossLog: String?
        @Option(help: "Write a checkpoint every this many steps (0: never); --resume continues from it.") var checkpointEvery: Int = 50
        @Flag(help: "Continue an interrupted run from its checkpoint.") var resume = false
        @Option(help: ArgumentHelp("Stop after this many steps of this run, as an interruption would, leaving the checkpoint.", visibility: .hidden))
        var stopAfter: Int?
        @Option(help: "Number format of the model's products: fp32 or bf16.") var precision: String = "fp32"
        @Flag(help: "Print one JSON object: steps, seconds, the first and last losses.") var json = false
        @OptionGroup var console: ConsoleOptions

        func settings() throws -> TextToImageTraining.Settings {
            var s = TextToImageTraining.Settings()
            (s.batch, s.learningRate, s.cooldownFrom, s.cooldownSteps, s.cooldownTo) = (batch, lr, cooldownFrom, cooldownSteps, cooldownTo)
            (s.ema, s.minSNRGamma, s.captionDropout, s.seed) = (ema, minSnrGamma, captionDropout, seed)
            try s.validate(source: "train prior")
            return s
        }

        func run() throws {
            console.apply()
            try CSDCommand.reportingInputErrors {
                guard (1...10_000_000).contains(steps) else { throw InputError("--steps", "must be 1...10000000") }
                guard checkpointEvery >= 0 else { throw InputError("--checkpoint-every", "must be ≥ 0") }
                let settings = try settings()
                let precision = try CSDCommand.precision(precision)
                let initial = URL(fileURLWithPath: initFrom).standardizedFileURL.path, out = URL(fileURLWithPath: output).standardizedFileURL.path
                guard initial != out else { throw InputError(output, "is the folder training starts from; choose another output") }
                try AtomicFile.checkDestination(output)
                if let lossLog { try AtomicFile.checkDestination(lossLog) }
                let shard = try CaptionedImages(path: data)
                let checkpoint = output + ".checkpoint.safetensors"
                for path in [checkpoint, output] + (lossLog.map { [$0] } ?? []) { AtomicFile.removeStrayTemporaries(of: path) }
                let training: TextToImageTraining
                if resume && FileManager.default.fileExists(atPath: checkpoint) {
                    training = try TextToImageTraining(resuming: checkpoint, folder: initFrom, data: shard, settings: settings)
                } else {
                    training = try TextToImageTraining(folder: initFrom, data: shard, settings: settings,
                                                       startStep: fromScratch ? 0 : TextToImageTraining.recordedSteps(in: initFrom))
                    if fromScratch { training.startFromScratch(folder: initFrom, seed: seed) }
                }
                let done = training.losses.count
                guard done <= steps else { throw InputError(checkpoint, "has already taken \(done) steps, more than --steps \(steps)") }
                let bar = ProgressBar(label: "training on \(shard.count) renders", total: steps)
                bar.update(done)
                let started = Date()
                try ComputePrecision.with(precision) {
                    for k in done..<steps {
                        if let stopAfter, k >= stopAfter { break }
                        try training.advance()
                        bar.update(k + 1)
                        if checkpointEvery > 0 && (k + 1) % checkpointEvery == 0 && k + 1 < steps {
                            try training.writeCheckpoint(to: checkpoint)
                            try writeLossLog(training)
                        }
                    }
                }
                bar.finish()
                if training.losses.count < steps {
                    try training.writeCheckpoint(to: checkpoint)
                    try writeLossLog(training)
                    Console.say("stopped after \(training.losses.count) steps; --resume continues from \(checkpoint)")
                    return
                }
                try writeLossLog(training)
                try training.export(from: initFrom, to: output)
                AtomicFile.remove(checkpoint)
                let losses = training.losses
                let head = losses.prefix(50), tail = losses.suffix(50)
                let first = head.reduce(0, +) / Float(head.count), last = tail.reduce(0, +) / Float(tail.count)
                if json {
                    try Console.printJSON(["output": output, "steps": losses.count, "seconds": Date().timeIntervalSince(started),
                                           "loss_first_50": Double(first), "loss_last_50": Double(last)])
                    return
                }
                Console.say(String(format: "wrote %@ after %d steps; mean loss %.5f over the first 50 steps, %.5f over the last 50",
                                   output, losses.count, first, last))
            }
        }

        /// Every step's loss so far, as `step<TAB>loss` lines numbered from the run's first step.
        func writeLossLog(_ training: TextToImageTraining) throws {
            guard let lossLog else { return }
            let start = training.step - training.losses.count
            let lines = training.losses.enumerated().map { "\(start + $0.offset + 1)\t\($0.element)" }
            try AtomicFile.write(Data(("step\tloss\n" + lines.joined(separator: "\n") + "\n").utf8), to: lossLog)
        }
    }
}
