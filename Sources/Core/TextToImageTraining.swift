import Foundation

/// Trains a text-to-image UNet and its CLIP text encoder on captioned images by the
/// noise-prediction loss, with the recipe of `Tools/train_prior.py`:
/// - each item's squared error weighted by min-SNR-γ (`min(SNR_t, γ) / SNR_t`, Hang et al. 2023);
/// - the gradient's global norm clipped to 1 (`torch.nn.utils.clip_grad_norm_`);
/// - AdamW without weight decay, its rate warmed up linearly over the first 500 steps of the
///   optimiser's state and optionally cooled down linearly to a lower rate;
/// - an EMA of the weights whose decay warms up as `min(ema, (1 + step) / (10 + step))`;
/// - captions dropped to "" at the caption-dropout rate, images flipped left-right half the time.
///
/// Each step's batch (`TextToImageTraining.Draws`) comes from a generator seeded by the run's
/// seed and the step alone, so a resumed run draws what an uninterrupted one would, and the
/// PyTorch script draws the same batches with `--plan-seed`.
public final class TextToImageTraining {
    public let settings: Settings
    public let data: CaptionedImages
    public let unetConfiguration: UNet2DConditionModelConfiguration
    public let textConfiguration: CLIPTextModelConfiguration
    let tokenizer: CLIPTokenizer
    let alphasCumprod: [Float]
    /// The weights being trained, by diffusers name: the UNet's and the text encoder's.
    public internal(set) var unet: [String: Tensor], text: [String: Tensor]
    /// Their exponential moving averages, which an export writes.
    public internal(set) var emaUNet: [String: Tensor], emaText: [String: Tensor]
    var optimizer: Adam
    /// Steps taken in all (the initial model's own steps included), and the step at which the
    /// optimiser's state began (its warm-up counts from there).
    public internal(set) var step: Int, optimizerStart: Int
    /// The loss of every step this run has taken since `optimizerStart`, before that step's update.
    public internal(set) var losses: [Float] = []

    /// Starts from the weights of `folder` (a diffusers text-to-image folder) at `startStep`.
    public init(folder: String, data: CaptionedImages, settings: Settings, startStep: Int = 0) throws {
        let model = try DiffusionModel(folder: folder)
        guard model.vae == nil else { throw InputError(folder, "is a latent model; training works on pixel-space models only") }
        let unetSize = model.unet.configuration.sampleSize ?? data.size
        guard model.unet.configuration.inChannels == 3, unetSize == data.size else {
            throw InputError(data.path, "holds \(data.size)×\(data.size) RGB images; \(folder)/unet takes \(model.unet.configuration.inChannels) channels at \(unetSize)×\(unetSize)")
        }
        self.settings = settings
        self.data = data
        unetConfiguration = model.unet.configuration
        textConfiguration = model.textEncoder.configuration
        tokenizer = model.tokenizer
        alphasCumprod = model.schedule.alphasCumprod
        unet = try Self.tensors(in: "\(folder)/unet")
        text = try Self.tensors(in: "\(folder)/text_encoder")
        (emaUNet, emaText) = (unet, text)
        optimizer = Adam.adamW(learningRate: settings.learningRate, weightDecay: 0)
        (step, optimizerStart) = (startStep, startStep)
    }

    /// The steps `folder/training.json` says the model was trained for (0 when it says nothing).
    public static func recordedSteps(in folder: String) -> Int {
        guard let data = FileManager.default.contents(atPath: "\(folder)/training.json"),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
        return json["steps"] as? Int ?? 0
    }

    static func tensors(in folder: String) throws -> [String: Tensor] {
        var out = [String: Tensor]()
        for path in try ModelFolder.weightsFiles(in: folder) {
            let file = try SafetensorsFile(path: path)
            for name in file.entries.keys { out[name] = try file.tensor(name) }
        }
        return out
    }

    /// The learning rate at `step` before the warm-up: `settings.learningRate`, or on the line to
    /// `cooldownTo` once `cooldownFrom` is reached (as `learning_rate` in the script).
    func scheduledRate(at step: Int) -> Float {
        guard let from = settings.cooldownFrom, step >= from else { return settings.learningRate }
        let done = min(1, Float(step - from) / Float(max(1, settings.cooldownSteps)))
        return settings.learningRate + (settings.cooldownTo - settings.learningRate) * done
    }

    /// One step: forward and backward on the step's batch, clipping, AdamW, EMA. Returns the loss.
    @discardableResult
    public func advance() throws -> Float {
        let draws = Draws(seed: settings.seed, step: step, batch: settings.batch, images: data.count, size: data.size,
                          captionDropout: settings.captionDropout, trainTimesteps: alphasCumprod.count)
        let (b, s) = (settings.batch, data.size)
        let plane = 3 * s * s
        // x0 in [-1, 1], NCHW, flipped where drawn; x_t = √ᾱ·x0 + √(1−ᾱ)·ε.
        var noisy = [Float](repeating: 0, count: b * plane)
        for k in 0..<b {
            let a = alphasCumprod[draws.timesteps[k]]
            let (sa, sn) = (a.squareRoot(), (1 - a).squareRoot())
            let base = draws.indices[k] * plane
            for y in 0..<s {
                for x in 0..<s {
                    let sx = draws.flips[k] ? s - 1 - x : x
                    for c in 0..<3 {
                        let x0 = Float(data.pixels[base + (y * s + sx) * 3 + c]) / 127.5 - 1
                        let o = k * plane + (c * s + y) * s + x
                        noisy[o] = sa * x0 + sn * draws.noise.storage[o]
                    }
                }
            }
        }
        let ids = (0..<b).map { tokenizer.encode(draws.dropped[$0] ? "" : data.captions[draws.indices[$0]]) }

        let tape = GradientTape(parameters: .all)
        let textModel = try CLIPTextModel(configuration: textConfiguration, store: ParameterStore(tensors: text))
        let unetModel = try UNet2DConditionModel(configuration: unetConfiguration, store: ParameterStore(tensors: unet))
        let encoded = textModel(ids, tape: tape)
        let prediction = unetModel(tape.constant(Tensor(shape: [b, 3, s, s], storage: noisy)),
                                   timesteps: draws.timesteps.map(Float.init),
                                   encoderHiddenStates: encoded.lastHiddenState, classLabels: encoded.pooled)
        // loss = mean_k w_k · mean((pred_k − ε_k)²), w = min(SNR, γ) / SNR; its gradient is the seed.
        var loss: Double = 0
        var seed = [Float](repeating: 0, count: b * plane)
        for k in 0..<b {
            let a = alphasCumprod[draws.timesteps[k]]
            let snr = a / (1 - a)
            let w = min(snr, settings.minSNRGamma) / snr
            var sum: Double = 0
            for i in (k * plane)..<((k + 1) * plane) {
                let d = prediction.value.storage[i] - draws.noise.storage[i]
                sum += Double(d * d)
                seed[i] = 2 * w * d / Float(b * plane)
            }
            loss += Double(w) * sum / Double(plane) / Double(b)
        }
        var gradients = tape.gradients(of: prediction, seed: Tensor(shape: prediction.shape, storage: seed)).parameters
        clipGlobalNorm(&gradients, to: 1)

        let warm = min(1, Float(step - optimizerStart + 1) / Float(settings.warmupSteps))
        optimizer.learningRate = scheduledRate(at: step) * warm
        var all = unet.merging(text) { a, _ in a }
        optimizer.step(&all, gradients: gradients)
        for name in unet.keys { unet[name] = all[name] }
        for name in text.keys { text[name] = all[name] }
        step += 1
        let decay = min(settings.ema, Float(1 + step) / Float(10 + step))
        for (name, p) in unet { emaUNet[name] = emaUNet[name]!.linearCombination(decay, p, 1 - decay) }
        for (name, p) in text { emaText[name] = emaText[name]!.linearCombination(decay, p, 1 - decay) }
        losses.append(Float(loss))
        return Float(loss)
    }

    /// `torch.nn.utils.clip_grad_norm_`: every gradient scaled by max / (‖g‖ + 1e-6) when that is below 1.
    func clipGlobalNorm(_ gradients: inout [String: Tensor], to maximum: Float) {
        var squares: Double = 0
        for name in gradients.keys.sorted() { for v in gradients[name]!.storage { squares += Double(v) * Double(v) } }
        let coefficient = maximum / (Float(squares.squareRoot()) + 1e-6)
        guard coefficient < 1 else { return }
        for name in gradients.keys { gradients[name] = gradients[name]!.scaled(by: coefficient) }
    }
}
