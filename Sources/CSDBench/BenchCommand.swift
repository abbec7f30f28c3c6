import ArgumentParser
import CVectorKernels
import Core
import Foundation

/// `csd-bench`: sgemm rate, UNet forward times and per-layer GFLOP/s, against PyTorch CPU
/// running the same weights on the same number of threads when it is installed.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csd-bench", abstract: "Measure the Swift UNet forward against OpenBLAS's sgemm rate and PyTorch CPU.")

    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: "Timed runs per case (the median is reported).") var runs: Int = 3
    @Option(help: "Rounds of Swift's runs and PyTorch's runs in turn; the ratio is the median of the rounds' ratios (for a host whose speed drifts).")
    var rounds: Int = 1
    @Option(help: "Python with torch and diffusers for the peer measurement (default: Tools/.venv/bin/python if present).")
    var python: String?
    @Flag(help: "Skip the PyTorch peer.") var noTorch = false
    @Option(help: "Keep the weights, inputs and PyTorch outputs exchanged with the peer in this folder.") var peerFolder: String?
    @Option(help: "Cases to run, comma-separated: \(BenchCase.all.map(\.name).joined(separator: ", ")).")
    var cases: String = BenchCase.all.map(\.name).joined(separator: ",")
    @Option(help: "Precisions of the products, comma-separated: fp32, bf16 (against PyTorch's bf16 autocast).")
    var precision = "fp32"
    @Flag(help: "Also time fp32 on OpenBLAS's kernels instead of the project's own, in the same run.") var openblas = false
    @Flag(help: "Run 3×3 convolutions without Winograd's F(2×2, 3×3) (directly or unfolded, as before it), to compare.")
    var noWinograd = false
    @Flag(help: "Run Winograd's 3×3 convolutions by F(2×2, 3×3) only, never F(4×4, 3×3), to compare.")
    var winogradF2 = false
    @Flag(help: "Also time 3×3 convolutions by Winograd against the direct or unfolded path, at SD VAE and UNet shapes, and SD's VAE decoder (one image).")
    var winogradShapes = false
    @Flag(help: "Also time attention alone at Stable Diffusion 1.x shapes (32×32 latent, batch 2).") var attention = false
    @Flag(help: "Time forward + backward (the sample and every parameter) against PyTorch's autograd instead of the forward.")
    var backward = false
    @Flag(help: "Measure each case's peak memory for a forward, a backward and a checkpointed backward (one child process each).")
    var peakMemory = false
    @Flag(help: "Time the NeRF grid field's training and rendering rays/s instead, against the same field in PyTorch.") var nerf = false
    @Flag(help: "Measure a video edit's peak memory against the video's length (one child process per edit), instead.") var videoMemory = false
    @Option(help: "With --video-memory: frame sizes WxH, comma-separated.") var videoSizes = "640x360,1920x1080"
    @Option(help: "With --video-memory: frame counts, comma-separated.") var videoFrames = "24,6000"
    @Option(help: "With --video-memory: the model the edits use.") var model = "Models/prior"
    @Option(help: .hidden) var videoInput: String?
    @Option(help: .hidden) var runOnce: String?

    /// `--video-memory`: the edit's peak memory at each length.
    func measureVideoMemory() throws {
        let sizes = try videoSizes.split(separator: ",").map { text -> (Int, Int) in
            let parts = text.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ (16...8192).contains($0) }) else { throw InputError("--video-sizes", "'\(text)' is not WxH") }
            return (parts[0], parts[1])
        }
        let counts = try videoFrames.split(separator: ",").map { text -> Int in
            guard let n = Int(text), (1...1_000_000).contains(n) else { throw InputError("--video-frames", "'\(text)' is not a frame count") }
            return n
        }
        let rows = try VideoMemoryBench.measure(sizes: sizes, frameCounts: counts, model: model, log: log)
        if json { print(String(decoding: try JSONSerialization.data(withJSONObject: ["video_memory": rows], options: [.sortedKeys]), as: UTF8.self)) }
    }

    /// `--nerf`: the field's rays/s against PyTorch's.
    func measureNeRF() throws {
        let threads = Parallelism.workers
        let peer = noTorch ? nil : (python ?? (FileManager.default.isExecutableFile(atPath: "Tools/.venv/bin/python") ? "Tools/.venv/bin/python" : nil))
        let r = try NeRFBench.measure(runs: runs, python: peer, threads: threads, keepIn: peerFolder)
        if json { print(String(decoding: try JSONSerialization.data(withJSONObject: r, options: [.sortedKeys]), as: UTF8.self)); return }
        var line = String(format: "NeRF grid field 128³, %d threads: training %.0f rays/s, rendering %.0f rays/s", threads,
                          r["train_rays_per_s"] as! Double, r["render_rays_per_s"] as! Double)
        if let t = r["torch_train_rays_per_s"] as? Double, let rr = r["torch_render_rays_per_s"] as? Double {
            line += String(format: "; PyTorch %.0f and %.0f rays/s: %.2f× and %.2f×", t, rr, r["train_speedup_vs_torch"] as! Double, r["render_speedup_vs_torch"] as! Double)
        }
        print(line)
    }

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs: \(runs) is not a count of runs (1 or more)") }
        guard rounds >= 1 else { throw ValidationError("--rounds: \(rounds) is not a count of rounds (1 or more)") }
    }

    /// " (ratios of 3 rounds: 0.61, 0.58, 0.63)" when the case ran more than one round.
    static func roundsNote(_ result: [String: Any]) -> String {
        guard let rounds = result["rounds"] as? [[String: Double]], rounds.count > 1 else { return "" }
        return " (ratios of \(rounds.count) rounds: " + rounds.map { String(format: "%.2f", $0["ratio"] ?? 0) }.joined(separator: ", ") + ")"
    }

    func run() throws {
        Tensor.winogradConvolution = !noWinograd
        Tensor.winogradF4 = !winogradF2
        if runOnce == "video-edit", let videoInput {
            print(String(decoding: try JSONSerialization.data(withJSONObject: try VideoMemoryBench.editOnce(input: videoInput, model: model),
                                                              options: [.sortedKeys]), as: UTF8.self))
            return
        }
        if videoMemory { return try measureVideoMemory() }
        if let mode = runOnce {
            for benchCase in BenchCase.all where cases == benchCase.name {
                let data = try JSONSerialization.data(withJSONObject: try benchCase.runOnce(mode), options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        if peakMemory { return try measurePeakMemory() }
        if backward { return try measureBackward() }
        if nerf { return try measureNeRF() }
        let core = BLAS.prepare()
        let threads = Parallelism.workers
        let precisions = try precision.split(separator: ",").map { text -> ComputePrecision in
            guard let p = ComputePrecision(rawValue: String(text)) else { throw ValidationError("--precision: '\(text)' is not fp32 or bf16") }
            guard p.isAvailable else { throw ValidationError("--precision: this CPU has no \(p.rawValue) kernels (AVX512-BF16)") }
            return p
        }
        let peaks = Self.peakRates(threads: threads)
        log(String(format: "%d threads; measured peak %.0f GFLOP/s fp32, %.0f bf16 (%@, register-only)", threads, peaks.fp32, peaks.bf16,
                       csd_sgemm_available() != 0 ? "AVX-512" : "AVX2"))
        let peer = noTorch ? nil : (python ?? (FileManager.default.isExecutableFile(atPath: "Tools/.venv/bin/python") ? "Tools/.venv/bin/python" : nil))
        if peer == nil && !noTorch { log("PyTorch peer: not found (make Tools/.venv with torch and diffusers, or pass --python)") }

        // One row per configuration: each precision on the project's kernels, and fp32 on OpenBLAS.
        var configurations = precisions.map { ($0, true) }
        if openblas { configurations.insert((.fp32, false), at: configurations.firstIndex { $0.0 == .bf16 } ?? configurations.count) }
        var results = [[String: Any]]()
        var sgemmRates = [String: Double]()
        var firstSgemm: Double?
        let wanted = Set(cases.split(separator: ",").map(String.init))
        for (precision, own) in configurations {
            ComputePrecision.current = precision
            BLAS.fp32Kernels = own ? .own : .openBLAS
            defer { ComputePrecision.current = .fp32; BLAS.fp32Kernels = .automatic }
            let kernels = BLAS.kernelName()
            let sgemm = Self.sgemmRate()
            sgemmRates[kernels] = sgemm
            firstSgemm = firstSgemm ?? sgemm
            // A CPU without bf16 has no bf16 peak: those shares are left out (0 here).
            let peak = precision == .bf16 ? peaks.bf16 : peaks.fp32
            func shareOfPeak(_ rate: Double) -> Double { peak > 0 ? rate / peak : 0 }
            log(String(format: "%@ (OpenBLAS core %@): sgemm 2048³ %.0f GFLOP/s, %.0f%% of peak", kernels, core, sgemm, 100 * shareOfPeak(sgemm)))
            for benchCase in BenchCase.all where wanted.contains(benchCase.name) {
                var r = try benchCase.measure(runs: runs, rounds: rounds, python: peer, threads: threads, keepIn: peerFolder, bf16: precision == .bf16)
                r["precision"] = precision.rawValue
                r["kernels"] = kernels
                let convShare = (r["conv_gflops"] as? Double ?? 0) / sgemm
                r["conv_vs_sgemm"] = convShare
                r["attention_vs_sgemm"] = (r["attention_gflops"] as? Double ?? 0) / sgemm
                for kind in ["conv", "linear", "attention"] { r[kind + "_vs_peak"] = shareOfPeak(r[kind + "_gflops"] as? Double ?? 0) }
                results.append(r)
                var line = String(format: "%@ [%@]: %.1f ms/forward (min %.1f; %.1f GFLOP, %.0f GFLOP/s); conv %.0f GFLOP/s (%.0f%% of sgemm, %.0f%% of peak), attention %.0f GFLOP/s (%.0f%%), linear %.0f GFLOP/s (%.0f%% of peak)",
                                  benchCase.name, kernels, r["unet_ms"] as! Double, r["unet_ms_min"] as! Double, r["gflop"] as! Double,
                                  r["gflops"] as! Double, r["conv_gflops"] as! Double, 100 * convShare, 100 * (r["conv_vs_peak"] as! Double),
                                  r["attention_gflops"] as! Double, 100 * (r["attention_vs_sgemm"] as! Double), r["linear_gflops"] as! Double,
                                  100 * (r["linear_vs_peak"] as! Double))
                if let torch = r["torch_ms"] as? Double {
                    line += String(format: "; PyTorch%@ %.1f ms, ratio %.2f (max |Δ| %.2e)", precision == .bf16 ? " bf16 autocast" : "", torch,
                                   r["ratio_vs_torch"] as! Double, r["max_abs_difference"] as! Double)
                    line += Self.roundsNote(r)
                }
                log(line)
                let kinds = (r["ms_by_kind"] as? [String: Double] ?? [:]).sorted { $0.value > $1.value }
                log("    ms by kind: " + kinds.map { String(format: "%@ %.1f", $0.key, $0.value) }.joined(separator: ", "))
            }
        }
        let sgemm = firstSgemm ?? Self.sgemmRate()
        var attentionResults = [[String: Any]]()
        if attention {
            for r in AttentionBench.measure(runs: max(runs, 5)) {
                log(String(format: "attention %@: %.2f ms, %.0f GFLOP/s (%.0f%% of sgemm)", r.shape.name, r.ms, r.gflops, 100 * r.gflops / sgemm))
                attentionResults.append(["shape": r.shape.name, "ms": r.ms, "gflops": r.gflops, "vs_sgemm": r.gflops / sgemm])
            }
        }
        var winogradResults = [[String: Any]]()
        if winogradShapes {
            for r in WinogradBench.measure(runs: max(runs, 3)) {
                log(String(format: "conv 3x3 %@: Winograd %.1f ms, without %.1f ms (%.2f×)", r.shape.name, r.winogradMs, r.otherMs, r.winogradMs / r.otherMs))
                winogradResults.append(["shape": r.shape.name, "winograd_ms": r.winogradMs, "other_ms": r.otherMs, "ratio": r.winogradMs / r.otherMs])
            }
            let d = try WinogradBench.measureDecoder(runs: max(1, runs / 2), latentSide: 32)
            log(String(format: "SD 1.x VAE decoder, 32x32 latent to 256x256: Winograd %.0f ms, without %.0f ms (%.2f×)", d.winogradMs, d.otherMs, d.winogradMs / d.otherMs))
            winogradResults.append(["shape": "SD 1.x VAE decoder, 32x32 latent", "winograd_ms": d.winogradMs, "other_ms": d.otherMs, "ratio": d.winogradMs / d.otherMs])
        }
        if json {
            var object: [String: Any] = ["sgemm_gflops": sgemm, "sgemm_gflops_by_kernels": sgemmRates, "blas_core": core, "threads": threads,
                                         "peak_gflops_fp32": peaks.fp32, "peak_gflops_bf16": peaks.bf16, "cases": results]
            if attention { object["attention"] = attentionResults }
            if winogradShapes { object["winograd"] = winogradResults }
            if let sd = results.first(where: { $0["name"] as? String == "sd15-latent32-b2" }) ?? results.last {
                for key in ["unet_ms", "torch_ms", "ratio_vs_torch"] { object[key] = sd[key] ?? NSNull() }
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// The cores' summed peak rates (each core's best of three register-only runs).
    static func peakRates(threads: Int) -> (fp32: Double, bf16: Double) {
        func rate(_ bf16: Int32) -> Double {
            var perThread = [Double](repeating: 0, count: threads)
            perThread.withUnsafeMutableBufferPointer { rates in
                let out = rates
                parallelFor(threads) { t in out[t] = (0..<3).map { _ in csd_peak_gflops(bf16, 20_000_000) }.max()! }
            }
            return perThread.reduce(0, +)
        }
        return (rate(0), rate(1))
    }

    /// Forward + backward for each case, against PyTorch's autograd.
    func measureBackward() throws {
        let core = BLAS.prepare()
        let threads = Parallelism.workers
        let sgemm = Self.sgemmRate()
        log(String(format: "%@ (OpenBLAS core %@), %d threads: sgemm 2048³ %.0f GFLOP/s", BLAS.kernelName(), core, threads, sgemm))
        let peer = noTorch ? nil : (python ?? (FileManager.default.isExecutableFile(atPath: "Tools/.venv/bin/python") ? "Tools/.venv/bin/python" : nil))
        var results = [[String: Any]]()
        let wanted = Set(cases.split(separator: ",").map(String.init))
        for benchCase in BenchCase.all where wanted.contains(benchCase.name) {
            var r = try benchCase.measureBackward(runs: runs, rounds: rounds, python: peer, threads: threads, keepIn: peerFolder)
            let rates = r["gflops_by_kind"] as? [String: Double] ?? [:]
            r["backward_vs_sgemm"] = rates.mapValues { $0 / sgemm }
            results.append(r)
            var line = String(format: "%@ forward+backward: %.1f ms (min %.1f; checkpointed %.1f)", benchCase.name,
                              r["forward_backward_ms"] as! Double, r["forward_backward_ms_min"] as! Double,
                              r["checkpointed_forward_backward_ms"] as! Double)
            if let torch = r["torch_ms"] as? Double {
                line += String(format: "; PyTorch autograd %.1f ms, ratio %.2f (sample gradient max |Δ| %.2e of %.2e)", torch,
                               r["ratio_vs_torch"] as! Double, r["max_abs_difference"] as! Double, r["torch_gradient_scale"] as! Double)
                line += Self.roundsNote(r)
            }
            log(line)
            let backwardKinds = rates.filter { $0.key.hasSuffix("_backward") && $0.value > 0 }.sorted { $0.key < $1.key }
            log("    backward products: " + backwardKinds.map { String(format: "%@ %.0f GFLOP/s (%.0f%% of sgemm)", $0.key, $0.value, 100 * $0.value / sgemm) }
                .joined(separator: ", "))
            let kinds = (r["ms_by_kind"] as? [String: Double] ?? [:]).sorted { $0.value > $1.value }
            log("    ms by kind: " + kinds.map { String(format: "%@ %.1f", $0.key, $0.value) }.joined(separator: ", "))
        }
        if json {
            let object: [String: Any] = ["sgemm_gflops": sgemm, "blas_core": core, "threads": threads, "cases": results]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        }
    }

    /// Peak resident memory of a forward, a backward and a checkpointed backward of each case, each
    /// in a process of its own (the kernel's peak is per process).
    func measurePeakMemory() throws {
        var results = [[String: Any]]()
        let wanted = cases.split(separator: ",").map(String.init)
        for name in wanted {
            var row: [String: Any] = ["name": name]
            for mode in ["forward", "backward", "checkpointed"] {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
                process.arguments = ["--cases", name, "--run-once", mode]
                let out = Pipe()
                process.standardOutput = out
                try process.run()
                let data = out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
                row["\(mode)_peak_mb"] = object["peak_mb"]
                row["parameter_mb"] = object["parameter_mb"]
                row["before_mb"] = object["before_mb"]
            }
            if let f = row["forward_peak_mb"] as? Double, let p = row["parameter_mb"] as? Double {
                for mode in ["backward", "checkpointed"] {
                    if let b = row["\(mode)_peak_mb"] as? Double { row["\(mode)_vs_budget"] = b / (2 * f + p) }
                }
                log(String(format: "%@: peak %.0f MB forward, %.0f MB backward, %.0f MB checkpointed backward; parameters %.0f MB; budget 2×forward + parameters = %.0f MB (backward %.2f of it, checkpointed %.2f)",
                           name, f, row["backward_peak_mb"] as? Double ?? 0, row["checkpointed_peak_mb"] as? Double ?? 0, p, 2 * f + p,
                           row["backward_vs_budget"] as? Double ?? 0, row["checkpointed_vs_budget"] as? Double ?? 0))
            }
            results.append(row)
        }
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: ["cases": results], options: [.sortedKeys]), as: UTF8.self))
        }
    }

    func log(_ line: String) {
        if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
    }

    /// Best of five 2048×2048×2048 sgemm runs after a warm-up.
    static func sgemmRate() -> Double {
        let n = 2048
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        var best = 0.0
        for i in 0..<6 {
            let start = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                BLAS.sgemm(transA: false, transB: false, m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: bp.baseAddress!, ldb: n,
                           c: cp.baseAddress!, ldc: n)
            } } }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if i > 0 { best = max(best, 2 * Double(n * n * n) / seconds / 1e9) }
        }
        return best
    }
}
