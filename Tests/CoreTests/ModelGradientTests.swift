import Testing
@testable import Core

/// Whole-model gradients (inputs and every parameter) against torch.autograd, and a directional
/// finite-difference check of a UNet.
@Suite struct ModelGradientTests {
    /// Compares every parameter gradient PyTorch recorded for `name` (named there without the
    /// `text_model.` prefix) with the tape's. A gradient that is zero in exact arithmetic (an
    /// attention key's bias: softmax ignores a shift of its row) is measured at the scale of the
    /// model's largest parameter gradient instead of its own round-off.
    func expectParameterGradients(_ name: String, _ grads: Gradients, prefix: String = "",
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let marker = "\(name).grad.param."
        let expected = GradientFixtures.file.entries.keys.filter { $0.hasPrefix(marker) }.sorted()
        #expect(expected.count > 10, "\(name): fixture holds \(expected.count) parameter gradients", sourceLocation: sourceLocation)
        let modelScale = expected.map { GradientFixtures.tensor($0).maxAbs }.max() ?? 0
        for key in expected {
            let parameter = String(key.dropFirst(marker.count))
            let reference = GradientFixtures.tensor(key)
            let mine = grads.parameters[prefix + parameter] ?? Tensor(zeros: reference.shape)
            expectClose(mine.reshaped(reference.shape), reference, floor: 1e-3 * modelScale, "\(name) d/d \(parameter)",
                        sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [false, true])
    func pixelUNetMatchesAutograd(checkpointing: Bool) throws {
        let unet = try UNet2DConditionModel(folder: Fixtures.path("unet-pixel"))
        let tape = GradientTape(parameters: .all, checkpointing: checkpointing)
        let x = tape.watch(GradientFixtures.tensor("unet_pixel.x"))
        let context = tape.watch(GradientFixtures.tensor("unet_pixel.context"))
        let pooled = tape.watch(GradientFixtures.tensor("unet_pixel.class_labels"))
        let out = unet(x, timesteps: GradientFixtures.tensor("unet_pixel.timesteps").storage, encoderHiddenStates: context,
                       classLabels: pooled)
        expectClose(out.value, GradientFixtures.tensor("unet_pixel.out"), "pixel UNet forward")
        let grads = tape.gradients(of: out, seed: GradientFixtures.tensor("unet_pixel.cotangent"))
        expectClose(grads[x], GradientFixtures.tensor("unet_pixel.grad.x"), "pixel UNet d/d sample")
        expectClose(grads[context], GradientFixtures.tensor("unet_pixel.grad.context"), "pixel UNet d/d context")
        expectClose(grads[pooled], GradientFixtures.tensor("unet_pixel.grad.class_labels"), "pixel UNet d/d pooled text")
        expectParameterGradients("unet_pixel", grads)
    }

    /// A partial graph: a loss on the output of one self-attention layer in an up-block (captured
    /// by name, as CDS takes its features) differentiates back to the sample.
    @Test func fromAnUpBlockSelfAttentionBackToTheSample() throws {
        let unet = try UNet2DConditionModel(folder: Fixtures.path("unet-pixel"))
        let name = "up_blocks.0.attentions.0.transformer_blocks.0.attn1"
        let tape = GradientTape(checkpointing: true)
        tape.capturing = [name]
        let x = tape.watch(GradientFixtures.tensor("unet_pixel_attn1.x"))
        _ = unet(x, timesteps: GradientFixtures.tensor("unet_pixel_attn1.timesteps").storage,
                 encoderHiddenStates: Variable(GradientFixtures.tensor("unet_pixel_attn1.context")),
                 classLabels: Variable(GradientFixtures.tensor("unet_pixel_attn1.class_labels")))
        let features = try #require(tape.captured(name))
        #expect(tape.captured("up_blocks.0.attentions.0.transformer_blocks.0.attn2") == nil)
        expectClose(features.value, GradientFixtures.tensor("unet_pixel_attn1.out"), "captured attn1 output")
        let grads = tape.gradients(of: features, seed: GradientFixtures.tensor("unet_pixel_attn1.cotangent"))
        expectClose(grads[x], GradientFixtures.tensor("unet_pixel_attn1.grad.x"), "d attn1 / d sample")
    }

    @Test func latentUNetMatchesAutograd() throws {
        let unet = try UNet2DConditionModel(folder: Fixtures.path("tiny-sd/unet"))
        let tape = GradientTape(parameters: .all)
        let x = tape.watch(GradientFixtures.tensor("unet_latent.x"))
        let context = tape.watch(GradientFixtures.tensor("unet_latent.context"))
        let out = unet(x, timesteps: GradientFixtures.tensor("unet_latent.timesteps").storage, encoderHiddenStates: context)
        let grads = tape.gradients(of: out, seed: GradientFixtures.tensor("unet_latent.cotangent"))
        expectClose(grads[x], GradientFixtures.tensor("unet_latent.grad.x"), "latent UNet d/d sample")
        expectClose(grads[context], GradientFixtures.tensor("unet_latent.grad.context"), "latent UNet d/d context")
        expectParameterGradients("unet_latent", grads)
    }

    @Test func vaeEncoderAndDecoderMatchAutograd() throws {
        let vae = try AutoencoderKL(folder: Fixtures.path("tiny-sd/vae"))
        let encodeTape = GradientTape(parameters: .all)
        let image = encodeTape.watch(GradientFixtures.tensor("vae_encode.x"))
        let latents = vae.encode(image)
        expectClose(latents.value, GradientFixtures.tensor("vae_encode.out"), "VAE encode")
        let encodeGrads = encodeTape.gradients(of: latents, seed: GradientFixtures.tensor("vae_encode.cotangent"))
        expectClose(encodeGrads[image], GradientFixtures.tensor("vae_encode.grad.x"), "VAE encoder d/d image")
        expectParameterGradients("vae_encode", encodeGrads)

        let decodeTape = GradientTape(parameters: .all)
        let z = decodeTape.watch(GradientFixtures.tensor("vae_decode.x"))
        let decoded = vae.decode(z)
        let decodeGrads = decodeTape.gradients(of: decoded, seed: GradientFixtures.tensor("vae_decode.cotangent"))
        expectClose(decodeGrads[z], GradientFixtures.tensor("vae_decode.grad.x"), "VAE decoder d/d latents")
        expectParameterGradients("vae_decode", decodeGrads)
    }

    @Test func clipTextModelMatchesAutograd() throws {
        let text = try CLIPTextModel(folder: Fixtures.path("tiny-sd/text_encoder"))
        let ids = GradientFixtures.tensor("clip.ids")
        let rows = (0..<ids.shape[0]).map { r in ids.item(r).storage.map { Int($0) } }
        let tape = GradientTape(parameters: .all)
        let out = text(rows, tape: tape)
        expectClose(out.lastHiddenState.value, GradientFixtures.tensor("clip.out"), "CLIP forward")
        let grads = tape.gradients(of: out.lastHiddenState, seed: GradientFixtures.tensor("clip.cotangent"))
        expectParameterGradients("clip", grads, prefix: text.prefix)
        let used = GradientFixtures.tensor("clip.used_ids").storage.map { Int($0) }
        let table = try #require(grads.parameters["\(text.prefix)embeddings.token_embedding.weight"])
        expectClose(table.gatheringRows(used), GradientFixtures.tensor("clip.grad.token_rows"), "CLIP d/d token rows")
    }

    /// ⟨∇f(x), v⟩ against (⟨f(x + εv), c⟩ − ⟨f(x − εv), c⟩) / 2ε for random directions v, on the
    /// latent UNet with respect to the sample, in Double-free fp32 (ε chosen for fp32 round-off).
    @Test func latentUNetGradientMatchesFiniteDifferencesAlongRandomDirections() throws {
        let unet = try UNet2DConditionModel(folder: Fixtures.path("tiny-sd/unet"))
        var rng = RandomGenerator(seed: 17)
        let x0 = rng.normal([1, 4, 8, 8]), context = rng.normal([1, 7, 16]), cotangent = rng.normal([1, 4, 8, 8])
        let timesteps: [Float] = [400]
        let tape = GradientTape()
        let x = tape.watch(x0)
        let grad = tape.gradients(of: unet(x, timesteps: timesteps, encoderHiddenStates: Variable(context)), seed: cotangent)[x]
        for _ in 0..<3 {
            let v = rng.normal(x0.shape)
            let eps: Float = 1e-2
            let plus = unet(x0.linearCombination(1, v, eps), timesteps: timesteps, encoderHiddenStates: context)
            let minus = unet(x0.linearCombination(1, v, -eps), timesteps: timesteps, encoderHiddenStates: context)
            let numeric = (FiniteDifference.dot(plus, cotangent) - FiniteDifference.dot(minus, cotangent)) / Double(2 * eps)
            let analytic = FiniteDifference.dot(grad, v)
            #expect(abs(numeric - analytic) <= 2e-3 * max(1, abs(analytic)), "directional derivative \(analytic) vs \(numeric)")
        }
    }
}
