import Foundation
import Testing
@testable import Core

/// Training in Swift against torch.optim (Tools/make_training_fixture.py): the optimisers step
/// for step, and a tiny conv net trained on world renders reaches PyTorch's loss.
@Suite struct TrainingTests {
    static let file = try! SafetensorsFile(path: Fixtures.path("training.safetensors"))
    static func tensor(_ name: String) -> Tensor { try! file.tensor(name) }

    /// The fixture's `TinyAutoencoder`, built from named parameters as any Core network is.
    struct TinyAutoencoder {
        var convIn: Conv2d, norm: GroupNorm, down: Conv2d, up: Conv2d, convOut: Conv2d

        init(_ parameters: [String: Tensor]) throws {
            let store = ParameterStore(tensors: parameters)
            convIn = try Conv2d(store, "conv_in", inChannels: 3, outChannels: 8, kernel: 3)
            norm = try GroupNorm(store, "norm", channels: 8, groups: 4, eps: 1e-5)
            down = try Conv2d(store, "down", inChannels: 8, outChannels: 16, kernel: 3, stride: 2)
            up = try Conv2d(store, "up", inChannels: 16, outChannels: 8, kernel: 3)
            convOut = try Conv2d(store, "conv_out", inChannels: 8, outChannels: 3, kernel: 3)
            try store.finish()
        }

        func callAsFunction(_ x: Variable) -> Variable {
            var h = norm(convIn(x), thenSiLU: true)
            h = down(h).silu()
            h = up(h.upsampleNearest(height: h.shape[2] * 2, width: h.shape[3] * 2)).silu()
            return convOut(h)
        }
    }

    /// Trains from the fixture's initial weights with its batch order; returns each step's loss
    /// (before that step's update) and the final weights.
    func train(steps: Int, _ optimizer: inout some Optimizer) throws -> (losses: [Float], parameters: [String: Tensor]) {
        let images = Self.tensor("images")
        let names = Self.file.entries.keys.filter { $0.hasPrefix("init.") }
        var parameters = Dictionary(uniqueKeysWithValues: names.map { (String($0.dropFirst(5)), Self.tensor($0)) })
        var losses = [Float]()
        for step in 0..<steps {
            let start = (step * 4) % images.shape[0]
            let batch = images.rows(Array(start..<(start + 4)))
            let tape = GradientTape(parameters: .all)
            let loss = try TinyAutoencoder(parameters)(tape.constant(batch)).meanSquaredError(to: batch)
            losses.append(loss.value.storage[0])
            optimizer.step(&parameters, gradients: tape.gradients(of: loss).parameters)
        }
        return (losses, parameters)
    }

    @Test func optimisersStepAsTorchOptimDoes() {
        let start = Self.tensor("optim.param"), grads = Self.tensor("optim.grads")
        let cases: [(String, any Optimizer)] = [
            ("sgd", SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)),
            ("adam", Adam(learningRate: 0.01, weightDecay: 0.1)),
            ("adamw", Adam.adamW(learningRate: 0.01, weightDecay: 0.1)),
        ]
        for (kind, initial) in cases {
            var optimizer = initial
            var parameters = ["p": start]
            let expected = Self.tensor("optim.\(kind)")
            for k in 0..<3 {
                optimizer.step(&parameters, gradients: ["p": grads.item(k)])
                expectClose(parameters["p"]!, expected.item(k), relative: 1e-5, "\(kind) step \(k + 1)")
            }
        }
    }

    /// 300 AdamW steps on world renders: the first loss agrees to 1e-4, and the loss curve, as
    /// means over 25-step spans, stays within 2% of PyTorch's all the way down.
    @Test func aTinyConvNetTrainsToPyTorchsLoss() throws {
        var adamW = Adam.adamW(learningRate: 3e-3, weightDecay: 0.01)
        let (losses, parameters) = try train(steps: 300, &adamW)
        let reference = Self.tensor("adamw.loss").storage
        #expect(abs(losses[0] - reference[0]) <= 1e-4 * reference[0], "first loss \(losses[0]) vs \(reference[0])")
        for span in stride(from: 0, to: 300, by: 25) {
            let mine = losses[span..<(span + 25)].reduce(0, +) / 25, theirs = reference[span..<(span + 25)].reduce(0, +) / 25
            #expect(abs(mine - theirs) <= 0.02 * theirs, "steps \(span)-\(span + 24): loss \(mine) vs PyTorch \(theirs)")
        }
        #expect(reference[299] < 0.1 * reference[0], "the reference run learns (\(reference[0]) → \(reference[299]))")
        expectClose(parameters["conv_out.bias"]!, Self.tensor("adamw.final.conv_out.bias"), relative: 0.05, "final conv_out.bias")
    }

    @Test func sgdWithMomentumTrainsToPyTorchsLoss() throws {
        var sgd = SGD(learningRate: 0.05, momentum: 0.9)
        let (losses, _) = try train(steps: 300, &sgd)
        let reference = Self.tensor("sgd.loss").storage
        let mine = losses[275..<300].reduce(0, +) / 25, theirs = reference[275..<300].reduce(0, +) / 25
        #expect(abs(mine - theirs) <= 0.02 * theirs, "final loss \(mine) vs PyTorch \(theirs)")
    }

    /// A trained parameter set saved as safetensors loads back by its diffusers-style names into
    /// the same network.
    @Test func trainedParametersSaveAndLoadAsSafetensors() throws {
        var sgd = SGD(learningRate: 0.05, momentum: 0.9)
        let (_, parameters) = try train(steps: 5, &sgd)
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/tiny.safetensors"
        try SafetensorsFile.write(parameters, to: path)
        let store = try ParameterStore(paths: [path])
        let loaded = try TinyAutoencoder(Dictionary(uniqueKeysWithValues: parameters.keys.map { ($0, try store.tensor($0, shape: parameters[$0]!.shape)) }))
        let images = Self.tensor("images").rows([0, 1])
        #expect(loaded(Variable(images)).value == (try TinyAutoencoder(parameters))(Variable(images)).value)
    }
}
