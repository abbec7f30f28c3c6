import Testing
@testable import Core

/// Each layer's vector-Jacobian products against torch.autograd (Tools/make_gradient_fixtures.py).
enum GradientFixtures {
    static let file = try! SafetensorsFile(path: Fixtures.path("gradients.safetensors"))
    static func tensor(_ name: String) -> Tensor { try! file.tensor(name) }
    static func has(_ name: String) -> Bool { file.entries[name] != nil }

    /// Runs `forward` on a tape that watches the case's inputs, seeds the case's cotangent and
    /// compares the output and each input's gradient with PyTorch's.
    static func check(_ name: String, inputs: [String], relative: Float = 1e-4,
                      sourceLocation: SourceLocation = #_sourceLocation, _ forward: ([Variable]) -> Variable) {
        let tape = GradientTape()
        let variables = inputs.map { tape.watch(tensor("\(name).\($0)")) }
        let out = forward(variables)
        expectClose(out.value, tensor("\(name).out"), relative: relative, "\(name) forward", sourceLocation: sourceLocation)
        let grads = tape.gradients(of: out, seed: tensor("\(name).cotangent"))
        for (input, v) in zip(inputs, variables) {
            expectClose(grads[v], tensor("\(name).grad.\(input)"), relative: relative, "\(name) d/d\(input)",
                        sourceLocation: sourceLocation)
        }
    }
}

@Suite struct LayerGradientTests {
    @Test func linear() {
        GradientFixtures.check("linear", inputs: ["x", "weight", "bias"]) { v in v[0].linear(weight: v[1], bias: v[2]) }
    }

    @Test(arguments: ["conv3", "conv1", "conv3_s2_asym", "conv4_s2", "conv3x2_s3", "conv3_s1_asym", "conv1_pad1", "conv3_one_image",
                       "conv3_s1_asym_one_image", "conv3_s2_one_image"])
    func convolution(_ name: String) {
        let g = GradientFixtures.tensor("\(name).geometry").storage.map { Int($0) }
        let padding = Padding2D(top: g[1], left: g[2], bottom: g[3], right: g[4])
        GradientFixtures.check(name, inputs: ["x", "weight", "bias"]) { v in
            v[0].conv2d(weight: v[1], bias: v[2], stride: g[0], padding: padding)
        }
    }

    @Test func groupNormAndItsFusedSiLU() {
        GradientFixtures.check("group_norm", inputs: ["x", "weight", "bias"]) { v in
            v[0].groupNorm(groups: 3, weight: v[1], bias: v[2], eps: 1e-6)
        }
        GradientFixtures.check("group_norm_silu", inputs: ["x", "weight", "bias"]) { v in
            v[0].groupNorm(groups: 2, weight: v[1], bias: v[2], eps: 1e-5, thenSiLU: true)
        }
    }

    @Test func layerNorm() {
        GradientFixtures.check("layer_norm", inputs: ["x", "weight", "bias"]) { v in v[0].layerNorm(weight: v[1], bias: v[2], eps: 1e-5) }
    }

    @Test func activationsSoftmaxAndGEGLU() {
        GradientFixtures.check("silu", inputs: ["x"]) { $0[0].silu() }
        GradientFixtures.check("gelu", inputs: ["x"]) { $0[0].gelu() }
        GradientFixtures.check("gelu_tanh", inputs: ["x"]) { $0[0].geluTanh() }
        GradientFixtures.check("quick_gelu", inputs: ["x"]) { $0[0].quickGelu() }
        GradientFixtures.check("softmax", inputs: ["x"]) { $0[0].softmax() }
        GradientFixtures.check("geglu", inputs: ["x"]) { $0[0].gatedGelu() }
    }

    /// The fixture's GEGLU rows (12 pairs) run only the kernel's scalar tail; rows of 37 pairs run
    /// two 16-wide vectors and a tail, checked against the exact formula in Swift.
    @Test func gegluGradientOnWideRowsMatchesTheExactFormula() {
        var random = RandomGenerator(seed: 34)
        let x = random.normal([3, 2, 74]).scaled(by: 2.5), dy = random.normal([3, 2, 37])
        let dx = Tensor.gatedGeluGradient(dy, input: x)
        var expected = Tensor(zeros: x.shape)
        for r in 0..<6 {
            for i in 0..<37 {
                let value = x.storage[r * 74 + i], gate = x.storage[r * 74 + 37 + i], g = dy.storage[r * 37 + i]
                expected.storage[r * 74 + i] = g * Tensor.Activation.gelu.value(gate)
                expected.storage[r * 74 + 37 + i] = g * value * Tensor.Activation.gelu.derivative(gate)
            }
        }
        expectClose(dx, expected, relative: 1e-5, "GEGLU gradient, 37 pairs a row")
    }

    @Test func attentionSelfCausalAndCross() {
        GradientFixtures.check("attention_self", inputs: ["x"]) { v in Variable.attention(query: v[0], key: v[0], value: v[0], heads: 3) }
        GradientFixtures.check("attention_causal", inputs: ["q", "k", "v"]) { v in
            Variable.attention(query: v[0], key: v[1], value: v[2], heads: 3, causal: true)
        }
        GradientFixtures.check("attention_cross", inputs: ["q", "k", "v"]) { v in
            Variable.attention(query: v[0], key: v[1], value: v[2], heads: 2)
        }
    }

    @Test func upsamplingAndConcatenation() {
        GradientFixtures.check("upsample2x", inputs: ["x"]) { $0[0].upsampleNearest(height: 10, width: 14) }
        GradientFixtures.check("upsample_odd", inputs: ["x"]) { $0[0].upsampleNearest(height: 9, width: 17) }
        GradientFixtures.check("concat", inputs: ["a", "b"]) { Variable.concatenateChannels($0[0], $0[1]) }
    }

    @Test func timestepEmbedding() {
        let t = GradientFixtures.tensor("timestep_embedding.t")
        let out = SinusoidalEmbedding.timesteps(t.storage, dim: 10, flipSinToCos: true, downscaleFreqShift: 0)
        expectClose(out, GradientFixtures.tensor("timestep_embedding.out"), "timestep embedding")
        let grad = SinusoidalEmbedding.timestepsGradient(GradientFixtures.tensor("timestep_embedding.cotangent"), timesteps: t.storage,
                                                         dim: 10, flipSinToCos: true, downscaleFreqShift: 0)
        expectClose(grad, GradientFixtures.tensor("timestep_embedding.grad.t"), relative: 1e-3, "d embedding / d t")
    }

    /// The element-wise and shape operations, against central differences of ⟨f(x), c⟩.
    @Test func elementwiseAndShapeOperationsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 5)
        func random(_ shape: [Int]) -> Tensor { rng.normal(shape) }
        let x = random([2, 3, 4, 5]), y = random([2, 3, 4, 5]), perChannel = random([2, 3])
        let cases: [(String, [Tensor], ([Variable]) -> Variable)] = [
            ("add", [x, y], { $0[0] + $0[1] }),
            ("subtract", [x, y], { $0[0] - $0[1] }),
            ("linear combination", [x, y], { $0[0].linearCombination(0.3, $0[1], -2) }),
            ("affine", [x], { $0[0].affine(scale: 1.7, shift: 0.2) }),
            ("channels last", [x], { $0[0].channelsLast() }),
            ("channels first", [x.reshaped([2, 20, 3])], { $0[0].channelsFirst(height: 4, width: 5) }),
            ("channel slice", [x], { $0[0].channels(1..<3) }),
            ("per-channel add", [x, perChannel], { $0[0].addingPerChannel($0[1]) }),
            ("gather rows", [x.reshaped([6, 20])], { $0[0].gatheringRows([4, 0, 4, 2]) }),
            ("mean squared error", [x], { $0[0].meanSquaredError(to: y) }),
        ]
        for (name, inputs, f) in cases {
            let tape = GradientTape()
            let vars = inputs.map { tape.watch($0) }
            let out = f(vars)
            let seed = random(out.shape)
            let grads = tape.gradients(of: out, seed: seed)
            for (k, input) in inputs.enumerated() {
                let numeric = FiniteDifference.gradient(of: { probe in
                    var args = inputs.map { Variable($0) }
                    args[k] = Variable(probe)
                    return f(args).value
                }, at: input, cotangent: seed, step: 1e-2)
                expectClose(grads[vars[k]], numeric, relative: 2e-3, "\(name) d/d input \(k)")
            }
        }
    }
}

/// Central differences of ⟨f(x), c⟩, element by element (for small tensors).
enum FiniteDifference {
    static func gradient(of f: (Tensor) -> Tensor, at x: Tensor, cotangent c: Tensor, step: Float) -> Tensor {
        var g = Tensor(zeros: x.shape)
        for i in 0..<x.count {
            var plus = x, minus = x
            plus.storage[i] += step
            minus.storage[i] -= step
            g.storage[i] = Float(dot(f(plus), c) - dot(f(minus), c)) / (2 * step)
        }
        return g
    }

    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += Double(a.storage[i]) * Double(b.storage[i]) }
        return s
    }
}
