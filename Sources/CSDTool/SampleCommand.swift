import ArgumentParser
import Core
import Foundation

/// `csd sample`: text-to-image with DDIM and classifier-free guidance, or an instruction model's
/// edit of an image (`--image` and `--instruction`, InstructPix2Pix's sampling).
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample", abstract: "Generate an image from a prompt, or edit one by an instruction, with a diffusers-format model.")

    @Option(help: "Model: a diffusers folder, or a single-file SD 1.x/2.x .safetensors checkpoint.") var model: String
    @Option(help: "Weights variant to load, e.g. fp16 for diffusion_pytorch_model.fp16.safetensors (default: the plain files).")
    var variant: String?
    @Option(name: .customLong("lora"), help: "A LoRA to merge into the model, FILE.safetensors[:scale] (kohya or diffusers/PEFT names; repeatable).")
    var loras: [String] = []
    @Option(help: "What to draw.") var prompt: String?
    @Option(help: "With --image and an instruction model: what to change, e.g. \"make the ball blue\" (in place of --prompt).") var instruction: String?
    @Option(help: "The image an instruction edits (resized to --size or the model's own size).") var image: String?
    @Option(help: "With --instruction: the image guidance scale (how closely to keep the image).") var imageGuidance: Float = 3
    @Option(help: "What to steer away from (the unconditional prompt).") var negativePrompt: String = ""
    @Option(help: "DDIM steps.") var steps: Int = 50
    @Option(help: "Classifier-free guidance scale (1 turns it off).") var guidance: Float = 7.5
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Image size WxH in pixels (default: the model's own).") var size: String?
    @Option(help: "Images to draw, written as one grid.") var count: Int = 1
    @Option(name: .shortAndLong, help: "Output PNG.") var output: String

    func checkOptions() throws {
        guard (1...1000).contains(steps) else { throw InputError("--steps", "must be between 1 and 1000, not \(steps)") }
        guard (1...64).contains(count) else { throw InputError("--count", "must be between 1 and 64, not \(count)") }
        switch (prompt, instruction, image) {
        case (let p?, nil, nil): guard !p.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw InputError("--prompt", "is empty") }
        case (nil, let i?, _?): guard !i.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw InputError("--instruction", "is empty") }
        case (nil, _?, nil): throw InputError("--instruction", "needs --image, the image to edit")
        case (nil, nil, _?): throw InputError("--image", "needs --instruction (what to change)")
        case (_?, _, _): throw InputError("--prompt", "draws from text alone; --instruction and --image edit an image instead")
        case (nil, nil, nil): throw InputError("--prompt", "is missing (or give --instruction and --image)")
        }
        guard imageGuidance >= 0, imageGuidance.isFinite else { throw InputError("--image-guidance", "must be a finite number ≥ 0") }
        if instruction != nil, !negativePrompt.isEmpty { throw InputError("--negative-prompt", "applies to --prompt, not to --instruction") }
        guard output.lowercased().hasSuffix(".png") else { throw InputError(output, "the output must be a .png file") }
    }

    @OptionGroup var console: ConsoleOptions

    func run() throws {
        console.apply()
        try CSDCommand.reportingInputErrors {
            try checkOptions()
            try AtomicFile.checkDestination(output)
            BLAS.prepare()
            let source = try image.map { try RGBImage(contentsOf: $0) }
            let diffusion = try CSDCommand.loadModel(model, variant: variant, loras: loras)
            try diffusion.require(instructionModel: instruction != nil, option: instruction != nil ? "--instruction" : "--prompt")
            _ = try DDIMScheduler.validated(schedule: diffusion.schedule, steps: steps)
            let (width, height) = try imageSize(diffusion)
            let cell = diffusion.pixelsPerCell
            var rng = RandomGenerator(seed: seed)
            let noise = rng.normal([count, diffusion.modelChannels, height / cell, width / cell])
            let bar = ProgressBar(label: "sampling", total: steps)
            let images: Tensor
            if let instruction, let source {
                let resized = source.tensor.reshaped([1, 3, source.height, source.width]).resized(height: height, width: width)
                images = diffusion.sample(instruction: instruction, images: Tensor.concatenateBatch(Array(repeating: resized, count: count)),
                                          noise: noise, steps: steps, guidance: guidance, imageGuidance: imageGuidance) { done, _ in bar.update(done) }
            } else {
                images = diffusion.sample(prompt: prompt ?? "", negativePrompt: negativePrompt, noise: noise, steps: steps,
                                          guidance: guidance) { done, _ in bar.update(done) }
            }
            bar.finish()
            let pictures = (0..<count).map { RGBImage(tensor: images.item($0).clamped(to: -1...1)) }
            try RGBImage.grid(pictures, columns: Int(Double(count).squareRoot().rounded(.up))).writePNG(to: output)
            Console.say("wrote \(output)")
        }
    }

    func imageSize(_ diffusion: DiffusionModel) throws -> (Int, Int) {
        let multiple = diffusion.pixelsPerCell * (1 << (diffusion.unet.configuration.blockOutChannels.count - 1))
        guard let size else {
            guard let native = diffusion.nativeImageSize else { throw InputError("--size", "the model has no sample_size; give --size WxH") }
            return (native, native)
        }
        let parts = size.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 > 0 && $0 <= 4096 }) else {
            throw InputError("--size", "'\(size)' is not WxH with sides from 1 to 4096")
        }
        guard parts[0] % multiple == 0, parts[1] % multiple == 0 else {
            throw InputError("--size", "\(size): both sides must be multiples of \(multiple) for this model")
        }
        return (parts[0], parts[1])
    }
}
