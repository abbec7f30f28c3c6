import Core
import Foundation

/// One UNet shape to time: a diffusers config and the input it runs on.
struct BenchCase {
    var name: String
    var config: [String: Any]
    var batch: Int, height: Int, width: Int, contextLength: Int

    static let sd15: [String: Any] = [
        "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
        "cross_attention_dim": 768, "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "in_channels": 4, "out_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "sample_size": 64,
    ]

    /// The shape issue 3 proposes for the bundled pixel prior (about 4M parameters).
    static let prior: [String: Any] = [
        "block_out_channels": [32, 64, 128], "down_block_types": ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"], "in_channels": 3, "out_channels": 3,
        "layers_per_block": 1, "attention_head_dim": 4, "cross_attention_dim": 128, "norm_num_groups": 8, "sample_size": 64,
        "class_embed_type": "projection", "projection_class_embeddings_input_dim": 128,
    ]

    static func fixtureConfig(_ folder: String) -> [String: Any] {
        let data = FileManager.default.contents(atPath: "Tests/CoreTests/Fixtures/\(folder)/config.json") ?? Data("{}".utf8)
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    static let all: [BenchCase] = [
        BenchCase(name: "fixture-pixel-64-b2", config: fixtureConfig("unet-pixel"), batch: 2, height: 64, width: 64, contextLength: 77),
        BenchCase(name: "fixture-latent-32-b2", config: fixtureConfig("tiny-sd/unet"), batch: 2, height: 32, width: 32, contextLength: 77),
        BenchCase(name: "prior4m-64-b2", config: prior, batch: 2, height: 64, width: 64, contextLength: 16),
        BenchCase(name: "sd15-latent32-b2", config: sd15, batch: 2, height: 32, width: 32, contextLength: 77),
    ]

    /// The case built: its UNet with random weights and its inputs.
    struct Prepared {
        var configData: Data
        var configuration: UNet2DConditionModelConfiguration
        var store: ParameterStore
        var unet: UNet2DConditionModel
        var sample: Tensor, context: Tensor, pooled: Tensor?, timesteps: [Float]
        /// The cotangent of the backward pass, in the output's shape.
        var cotangent: Tensor

        func forward() -> Tensor { unet(sample, timesteps: timesteps, encoderHiddenStates: context, classLabels: pooled) }

        /// Forward and backward with respect to the sample and every parameter; returns the
        /// sample's gradient.
        func forwardAndBackward(checkpointing: Bool = false) -> Tensor {
            let tape = GradientTape(parameters: .all, checkpointing: checkpointing)
            let x = tape.watch(sample)
            let out = unet(x, timesteps: timesteps, encoderHiddenStates: tape.constant(context),
                           classLabels: pooled.map { tape.constant($0) })
            return tape.gradients(of: out, seed: cotangent)[x]
        }

        var parameterCount: Int { store.invented.values.reduce(0) { $0 + $1.count } }

        /// The inputs, timesteps and cotangent in the file the PyTorch peer reads.
        func writeInputs(to path: String) throws {
            var inputs = ["sample": sample, "context": context, "timesteps": Tensor(shape: [timesteps.count], storage: timesteps),
                          "cotangent": cotangent]
            if let pooled { inputs["class_labels"] = pooled }
            try SafetensorsFile.write(inputs, to: path)
        }
    }

    func prepare() throws -> Prepared {
        let configData = try JSONSerialization.data(withJSONObject: config)
        let configuration = try JSONDecoder().decode(UNet2DConditionModelConfiguration.self, from: configData)
        let store = ParameterStore.randomlyInitialised(seed: 1)
        let unet = try UNet2DConditionModel(configuration: configuration, store: store, configPath: name)
        var rng = RandomGenerator(seed: 2)
        let sample = rng.normal([batch, configuration.inChannels, height, width])
        let context = rng.normal([batch, contextLength, configuration.crossAttentionDim])
        let pooled = configuration.projectionClassEmbeddingsInputDim.map { rng.normal([batch, $0]) }
        let timesteps = (0..<batch).map { Float(500 + 37 * $0) }
        let cotangent = rng.normal([batch, configuration.outChannels, height, width])
        return Prepared(configData: configData, configuration: configuration, store: store, unet: unet, sample: sample,
                        context: context, pooled: pooled, timesteps: timesteps, cotangent: cotangent)
    }

    /// A folder for the files exchanged with the PyTorch peer: weights, config and inputs.
    func peerFolder(_ prepared: Prepared, keepIn: String?) throws -> String {
        let folder = keepIn.map { "\($0)/\(name)" }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("csd-bench-\(name)-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try prepared.configData.write(to: URL(fileURLWithPath: "\(folder)/config.json"))
        try SafetensorsFile.write(prepared.store.invented, to: "\(folder)/diffusion_pytorch_model.safetensors")
        try prepared.writeInputs(to: "\(folder)/inputs.safetensors")
        return folder
    }

    /// Milliseconds of each of `runs` calls of `body` after one warm-up call.
    static func time(runs: Int, _ body: () -> Void) -> [Double] {
        body()
        return (0..<runs).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
    }

    /// Per-kind FLOPs and median times over `count` profiled calls of `body`.
    static func profile(_ count: Int, _ body: () -> Void) -> [Profiler.Kind: Profiler.Totals] {
        var profiles = [[Profiler.Kind: Profiler.Totals]]()
        for _ in 0..<max(1, count) {
            Profiler.reset()
            Profiler.enabled = true
            body()
            Profiler.enabled = false
            profiles.append(Profiler.snapshot())
        }
        return medianTotals(profiles)
    }

    /// Forward + backward (sample and every parameter) timed against PyTorch's autograd on the
    /// same weights, inputs, cotangent and threads; GFLOP/s of the backward products.
    func measureBackward(runs: Int, rounds: Int = 1, python: String?, threads: Int, keepIn: String? = nil) throws -> [String: Any] {
        let prepared = try prepare()
        var gradient = Tensor(zeros: [1])
        let times = Self.time(runs: runs) { gradient = prepared.forwardAndBackward() }
        let checkpointedTimes = Self.time(runs: runs) { _ = prepared.forwardAndBackward(checkpointing: true) }
        let totals = Self.profile(min(runs, 3)) { _ = prepared.forwardAndBackward() }
        let ms = times.sorted()[times.count / 2]
        var result: [String: Any] = [
            "name": name, "forward_backward_ms": ms, "forward_backward_ms_min": times.min()!, "forward_backward_runs_ms": times,
            "checkpointed_forward_backward_ms": checkpointedTimes.sorted()[times.count / 2],
            "parameters": prepared.parameterCount,
            "gflops_by_kind": Dictionary(uniqueKeysWithValues: totals.map { ($0.key.rawValue, $0.value.gflops) }),
            "ms_by_kind": Dictionary(uniqueKeysWithValues: totals.map { ($0.key.rawValue, $0.value.seconds * 1000) }),
            "gradient_scale": Double(gradient.maxAbs), "gradient_non_finite": gradient.nonFiniteCount,
        ]
        if let python {
            let folder = try peerFolder(prepared, keepIn: keepIn)
            defer { if keepIn == nil { try? FileManager.default.removeItem(atPath: folder) } }
            let peer = try Self.runPeer(python: python, folder: folder, threads: threads, runs: runs, backward: true)
            if let torchMs = peer["torch_ms"] as? Double {
                let reference = try SafetensorsFile(path: "\(folder)/output.safetensors").tensor("grad_sample")
                result["torch_ms"] = torchMs
                result["ratio_vs_torch"] = ms / torchMs
                result.merge(try Self.alternate(rounds: rounds, first: (times, torchMs), swiftKey: "forward_backward_ms",
                                                swift: { Self.time(runs: runs) { _ = prepared.forwardAndBackward() } },
                                                peer: { try Self.runPeer(python: python, folder: folder, threads: threads, runs: runs, backward: true) })) { $1 }
                result["max_abs_difference"] = Double(gradient.maxAbsDifference(reference))
                result["torch_gradient_scale"] = Double(reference.maxAbs)
            }
        }
        return result
    }

    /// One forward, backward or checkpointed backward, for a child process that reports its peak
    /// memory; or ("gradient-digest") a hash of every gradient's bits.
    func runOnce(_ mode: String) throws -> [String: Any] {
        let prepared = try prepare()
        let before = Self.residentMegabytes()
        var digest: String? = nil
        switch mode {
        case "forward": _ = prepared.forward()
        case "backward": _ = prepared.forwardAndBackward()
        case "gradient-digest":
            // Every gradient's bits, for checking that they do not depend on the thread count.
            let tape = GradientTape(parameters: .all)
            let x = tape.watch(prepared.sample), context = tape.watch(prepared.context)
            let out = prepared.unet(x, timesteps: prepared.timesteps, encoderHiddenStates: context,
                                    classLabels: prepared.pooled.map { tape.constant($0) })
            let grads = tape.gradients(of: out, seed: prepared.cotangent)
            digest = Tensor.fingerprint([grads[x], grads[context]] + grads.parameters.keys.sorted().map { grads.parameters[$0]! })
        default: _ = prepared.forwardAndBackward(checkpointing: true)
        }
        var result: [String: Any] = ["mode": mode, "peak_mb": Self.peakResidentMegabytes(), "before_mb": before,
                                     "parameter_mb": Double(prepared.parameterCount * 4) / 1_048_576]
        if let digest { result["digest"] = digest }
        return result
    }

    /// This process's peak resident memory, from /proc/self/status (VmHWM). Not getrusage's
    /// ru_maxrss: Linux carries that across exec from the process that spawned this one, so a
    /// child started by a parent that had once held 420 MB reported 420 MB for a 640×360 edit.
    static func peakResidentMegabytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_maxrss) / 1024
        }
        return kilobytes / 1024
    }

    /// Resident memory now, from /proc/self/statm.
    static func residentMegabytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    /// The forward timed against PyTorch CPU on the same weights, inputs and threads.
    /// With `bf16`, the peer runs under PyTorch's bf16 autocast (the caller sets this process's precision).
    func measure(runs: Int, rounds: Int = 1, python: String?, threads: Int, keepIn: String? = nil, bf16: Bool = false) throws -> [String: Any] {
        let prepared = try prepare()
        var output = Tensor(zeros: [1])
        let times = Self.time(runs: runs) { output = prepared.forward() }
        // Per-kind rates: each kind's median time over several profiled forwards (one forward's
        // figures moved by up to 3x between runs on a shared VM).
        let totals = Self.profile(min(runs, 5)) { _ = prepared.forward() }
        let flops = totals.values.reduce(0) { $0 + $1.flops }
        let ms = times.sorted()[times.count / 2]
        var result: [String: Any] = [
            "name": name, "unet_ms": ms, "unet_ms_min": times.min()!, "gflop": flops / 1e9, "gflops": flops / (ms / 1000) / 1e9,
            "conv_gflops": totals[.convolution]?.gflops ?? 0, "attention_gflops": totals[.attention]?.gflops ?? 0,
            "linear_gflops": totals[.linear]?.gflops ?? 0,
            "parameters": prepared.parameterCount,
            "output_non_finite": output.nonFiniteCount, "output_scale": Double(output.maxAbs),
            "ms_by_kind": Dictionary(uniqueKeysWithValues: totals.map { ($0.key.rawValue, $0.value.seconds * 1000) }),
        ]
        if let python {
            let folder = try peerFolder(prepared, keepIn: keepIn)
            defer { if keepIn == nil { try? FileManager.default.removeItem(atPath: folder) } }
            let peer = try Self.runPeer(python: python, folder: folder, threads: threads, runs: runs, bf16: bf16)
            if let torchMs = peer["torch_ms"] as? Double {
                let reference = try SafetensorsFile(path: "\(folder)/output.safetensors").tensor("out")
                result["torch_ms"] = torchMs
                result["ratio_vs_torch"] = ms / torchMs
                result["torch_version"] = peer["torch_version"]
                result.merge(try Self.alternate(rounds: rounds, first: (times, torchMs), swiftKey: "unet_ms",
                                                swift: { Self.time(runs: runs) { _ = prepared.forward() } },
                                                peer: { try Self.runPeer(python: python, folder: folder, threads: threads, runs: runs, bf16: bf16) })) { $1 }
                result["max_abs_difference"] = Double(output.maxAbsDifference(reference))
                result["torch_output_scale"] = Double(reference.maxAbs)
            }
        }
        return result
    }

    /// Swift and the peer timed in turn, `rounds` times (`first` is the first round, already
    /// made), so that a host that slows down for a while slows both sides of some round rather
    /// than one side of the comparison. Returns the JSON keys that replace a single round's:
    /// medians over all Swift runs, the median of the rounds' ratios, and each round; nothing for
    /// one round. A peer that fails in a later round ends the alternation there.
    static func alternate(rounds: Int, first: ([Double], Double), swiftKey: String, swift: () -> [Double],
                          peer: () throws -> [String: Any]) throws -> [String: Any] {
        guard rounds > 1 else { return [:] }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        var (allTimes, made) = (first.0, [(swift: median(first.0), torch: first.1)])
        for _ in 1..<rounds {
            let times = swift()
            guard let torch = try peer()["torch_ms"] as? Double else { break }
            allTimes += times
            made.append((median(times), torch))
        }
        let ratios = made.map { $0.swift / $0.torch }
        return [swiftKey: median(allTimes), swiftKey + "_min": allTimes.min()!, "torch_ms": median(made.map(\.torch)),
                "ratio_vs_torch": median(ratios), "ratio_vs_torch_min": ratios.min()!, "ratio_vs_torch_max": ratios.max()!,
                "rounds": made.map { ["swift_ms": $0.swift, "torch_ms": $0.torch, "ratio": $0.swift / $0.torch] }]
    }

    /// For each kind, its FLOPs and its median time over the profiles.
    static func medianTotals(_ profiles: [[Profiler.Kind: Profiler.Totals]]) -> [Profiler.Kind: Profiler.Totals] {
        var result = [Profiler.Kind: Profiler.Totals]()
        for kind in Profiler.Kind.allCases {
            let seen = profiles.compactMap { $0[kind] }
            guard !seen.isEmpty else { continue }
            let seconds = seen.map(\.seconds).sorted()
            result[kind] = Profiler.Totals(flops: seen[0].flops, seconds: seconds[seconds.count / 2])
        }
        return result
    }

    static func runPeer(python: String, folder: String, threads: Int, runs: Int, backward: Bool = false, bf16: Bool = false) throws -> [String: Any] {
        try runScript(python: python, arguments: ["Tools/bench_torch.py", "--folder", folder, "--threads", "\(threads)", "--runs", "\(runs)"]
            + (backward ? ["--backward"] : []) + (bf16 ? ["--bf16"] : []))
    }

    /// Runs a peer script and reads the JSON object on the last line it prints (empty when it fails).
    static func runScript(python: String, arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONWARNINGS"] = "ignore"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { return [:] }
        return object
    }
}
