import Foundation

extension TextToImageTraining {
    /// New weights for a UNet's tensors (their names and shapes taken from `like`), drawn as
    /// PyTorch initialises the diffusers layers: convolution and linear weights and biases
    /// uniform in ±1/√fan_in (`kaiming_uniform_(a=√5)` and the bias rule of `torch.nn.Linear` /
    /// `Conv2d`), norm weights 1 and biases 0.
    public static func freshUNetWeights(like: [String: Tensor], rng: inout RandomGenerator) -> [String: Tensor] {
        var out = [String: Tensor]()
        for name in like.keys.sorted() {
            let shape = like[name]!.shape
            let module = String(name.split(separator: ".").dropLast().joined(separator: "."))
            if let weight = like["\(module).weight"], weight.shape.count >= 2 {
                let fanIn = weight.shape.dropFirst().reduce(1, *)
                out[name] = uniform(shape, bound: 1 / Float(fanIn).squareRoot(), rng: &rng)
            } else {
                // The weight and bias of a group or layer norm.
                out[name] = Tensor(shape: shape, repeating: name.hasSuffix(".weight") ? 1 : 0)
            }
        }
        return out
    }

    /// New weights for a CLIP text encoder's tensors, drawn as `transformers`' `CLIPPreTrainedModel._init_weights`
    /// does with `initializer_factor` f: embeddings N(0, 0.02f); q, k, v N(0, d^−½(2L)^−½ f); the
    /// attention's output N(0, d^−½ f); fc1 N(0, (2d)^−½ f); fc2 N(0, d^−½(2L)^−½ f); linear biases
    /// 0; layer norms 1 and 0 (d the hidden size, L the layers).
    public static func freshTextWeights(like: [String: Tensor], configuration c: CLIPTextModelConfiguration, factor: Float = 1,
                                        rng: inout RandomGenerator) -> [String: Tensor] {
        let d = Float(c.hiddenSize), layers = Float(c.numHiddenLayers)
        let inner = 1 / d.squareRoot() / (2 * layers).squareRoot() * factor
        var out = [String: Tensor]()
        for name in like.keys.sorted() {
            let shape = like[name]!.shape
            let std: Float?
            switch true {
            case name.hasSuffix("embedding.weight"): std = 0.02 * factor
            case name.hasSuffix("_proj.weight") && !name.hasSuffix("out_proj.weight"): std = inner
            case name.hasSuffix("out_proj.weight"): std = 1 / d.squareRoot() * factor
            case name.hasSuffix("fc1.weight"): std = 1 / (2 * d).squareRoot() * factor
            case name.hasSuffix("fc2.weight"): std = inner
            default: std = nil
            }
            if let std {
                out[name] = rng.normal(shape).scaled(by: std)
            } else {
                // Linear biases are zero; layer norms start as the identity.
                let isNormWeight = name.hasSuffix(".weight") && shape.count == 1
                out[name] = Tensor(shape: shape, repeating: isNormWeight ? 1 : 0)
            }
        }
        return out
    }

    static func uniform(_ shape: [Int], bound: Float, rng: inout RandomGenerator) -> Tensor {
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, storage: (0..<n).map { _ in Float(2 * rng.uniform() - 1) * bound })
    }

    /// Replaces the weights (and their EMA) with fresh ones seeded by `seed`, for training from
    /// scratch; the text encoder's `initializer_factor` is read from `folder/text_encoder/config.json`.
    public func startFromScratch(folder: String, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        unet = Self.freshUNetWeights(like: unet, rng: &rng)
        var factor: Float = 1
        if let data = FileManager.default.contents(atPath: "\(folder)/text_encoder/config.json"),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let f = json["initializer_factor"] as? Double {
            factor = Float(f)
        }
        text = Self.freshTextWeights(like: text, configuration: textConfiguration, factor: factor, rng: &rng)
        (emaUNet, emaText) = (unet, text)
    }
}
