import Foundation
import Testing
@testable import Core

/// Every broken input is one line naming the file (and the tensor or key), never a crash.
@Suite struct ModelLoadingErrorTests {
    /// A copy of the pixel UNet folder to break.
    func copyOfPixelUNet() throws -> String {
        let dir = Fixtures.scratch()
        try FileManager.default.copyItem(atPath: Fixtures.path("unet-pixel"), toPath: "\(dir)/unet")
        return "\(dir)/unet"
    }

    var weights: [String: Tensor] {
        let file = try! SafetensorsFile(path: Fixtures.path("unet-pixel/diffusion_pytorch_model.safetensors"))
        return Dictionary(uniqueKeysWithValues: file.entries.keys.map { ($0, try! file.tensor($0)) })
    }

    /// Raw safetensors bytes with the given header.
    func rawFile(header: String, dataBytes: Int) -> Data {
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        data.append(Data(count: dataBytes))
        return data
    }

    func loadError(_ folder: String) -> InputError? {
        do {
            _ = try UNet2DConditionModel(folder: folder)
            return nil
        } catch let error as InputError {
            return error
        } catch {
            Issue.record("not an InputError: \(error)")
            return nil
        }
    }

    func expectOneLine(_ error: InputError?, mentions parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error else {
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return
        }
        let text = error.description
        #expect(!text.contains("\n"), "multi-line: \(text)", sourceLocation: sourceLocation)
        for part in parts {
            #expect(text.contains(part), "'\(text)' does not mention '\(part)'", sourceLocation: sourceLocation)
        }
    }

    @Test func missingWeightsFolderAndFiles() throws {
        expectOneLine(loadError("/nonexistent/unet"), mentions: ["/nonexistent/unet", "no such"])
        let folder = try copyOfPixelUNet()
        try FileManager.default.removeItem(atPath: "\(folder)/diffusion_pytorch_model.safetensors")
        expectOneLine(loadError(folder), mentions: [folder, "no .safetensors"])
        let other = try copyOfPixelUNet()
        try FileManager.default.removeItem(atPath: "\(other)/config.json")
        expectOneLine(loadError(other), mentions: ["\(other)/config.json", "no such file"])
    }

    @Test func emptyAndTruncatedFiles() throws {
        let folder = try copyOfPixelUNet()
        let path = "\(folder)/diffusion_pytorch_model.safetensors"
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        try Data().write(to: URL(fileURLWithPath: path))
        expectOneLine(loadError(folder), mentions: [path, "truncated"])
        try original.prefix(original.count - 1000).write(to: URL(fileURLWithPath: path))
        expectOneLine(loadError(folder), mentions: [path, "run past the end", "tensor '"])
        try original.prefix(100).write(to: URL(fileURLWithPath: path))
        expectOneLine(loadError(folder), mentions: [path, "header length"])
    }

    @Test func headerThatLies() throws {
        let dir = Fixtures.scratch()
        let path = "\(dir)/w.safetensors"
        let cases: [(String, Int, [String])] = [
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12, ["overlap", "'a'", "'b'"]),
            (#"{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, 2, ["tensor 'a'", "unsupported dtype F8_E4M3"]),
            (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, ["tensor 'a'", "do not hold F32 [3]"]),
            (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8, ["tensor 'a'", "run past the end"]),
            (#"{"a":{"dtype":"F32"}}"#, 0, ["tensor 'a'", "lacks"]),
            (#"{"a":{"dtype":"F32","shape":[3037000500,3037000500,4],"data_offsets":[0,8]}}"#, 8, ["tensor 'a'", "more elements than any file"]),
            // One byte short of the data: every tensor would be read a byte off.
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 9, ["cover 8 of the 9 data bytes"]),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[5,9]}}"#, 9,
             ["tensor 'b' starts at data byte 5"]),
            ("[1,2,3]", 0, ["not a JSON object"]),
        ]
        for (header, bytes, parts) in cases {
            try rawFile(header: header, dataBytes: bytes).write(to: URL(fileURLWithPath: path))
            var caught: InputError?
            do { _ = try SafetensorsFile(path: path) } catch let e as InputError { caught = e }
            expectOneLine(caught, mentions: [path] + parts)
        }
    }

    @Test func wrongShapeWrongDtypeMissingAndUnexpectedParameters() throws {
        let folder = try copyOfPixelUNet()
        let path = "\(folder)/diffusion_pytorch_model.safetensors"
        var w = weights
        w["conv_in.weight"] = Tensor(zeros: [16, 3, 5, 5])
        try SafetensorsFile.write(w, to: path)
        expectOneLine(loadError(folder), mentions: [path, "'conv_in.weight'", "shape [16, 3, 5, 5]", "expected [16, 3, 3, 3]"])

        w = weights
        w["conv_out.bias"] = nil
        try SafetensorsFile.write(w, to: path)
        expectOneLine(loadError(folder), mentions: [path, "missing parameter 'conv_out.bias'"])

        w = weights
        w["extra.layer.weight"] = Tensor(zeros: [2])
        try SafetensorsFile.write(w, to: path)
        expectOneLine(loadError(folder), mentions: [path, "unexpected parameter 'extra.layer.weight'"])

        // An integer tensor where a weight belongs: patch one dtype in the header (F32 → I32, same size).
        try SafetensorsFile.write(weights, to: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = String(decoding: bytes[8 ..< 8 + headerLength], as: UTF8.self)
        let entry = header.range(of: "\"conv_in.bias\":{")!
        let dtype = header.range(of: "\"dtype\":\"F32\"", range: entry.upperBound ..< header.endIndex)!
        header.replaceSubrange(dtype, with: "\"dtype\":\"I32\"")
        bytes.replaceSubrange(8 ..< 8 + headerLength, with: Data(header.utf8))
        try bytes.write(to: URL(fileURLWithPath: path))
        expectOneLine(loadError(folder), mentions: [path, "'conv_in.bias'", "dtype I32"])
    }

    @Test func badConfigValues() throws {
        let folder = try copyOfPixelUNet()
        let configPath = "\(folder)/config.json"
        let original = try String(contentsOfFile: configPath, encoding: .utf8)
        func with(_ edit: (inout [String: Any]) -> Void) throws {
            var json = try JSONSerialization.jsonObject(with: Data(original.utf8)) as! [String: Any]
            edit(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: configPath))
        }
        try with { $0["layers_per_block"] = "two" }
        expectOneLine(loadError(folder), mentions: [configPath, "'layers_per_block'", "wrong type"])
        try with { $0["block_out_channels"] = [16, "x", 32] }
        expectOneLine(loadError(folder), mentions: [configPath, "block_out_channels", "wrong type"])
        try with { $0["down_block_types"] = ["DownBlock2D", "SimpleCrossAttnDownBlock2D", "CrossAttnDownBlock2D"] }
        expectOneLine(loadError(folder), mentions: [configPath, "unsupported block type 'SimpleCrossAttnDownBlock2D'"])
        try with { $0["act_fn"] = "mish" }
        expectOneLine(loadError(folder), mentions: [configPath, "act_fn"])
        // Values that used to reach a trap (a division by zero groups, a negative count, a huge size).
        let traps: [(String, Any, String)] = [
            ("layers_per_block", -1, "'layers_per_block' is -1"),
            ("transformer_layers_per_block", [1, -2, 1], "'transformer_layers_per_block' is -2"),
            ("sample_size", 2_147_483_648, "'sample_size' is 2147483648"),
            ("norm_num_groups", -0.0, "'norm_num_groups' is 0"),
            ("norm_num_groups", 5, "does not split into 5 groups"),
            ("block_out_channels", [16, 0, 32], "'block_out_channels' is 0"),
            ("norm_eps", -1, "'norm_eps' is -1"),
            ("conv_in_kernel", 0, "'conv_in_kernel' is 0"),
            ("in_channels", 0, "'in_channels' is 0"),
        ]
        for (key, value, message) in traps {
            try with { $0[key] = value }
            expectOneLine(loadError(folder), mentions: [configPath, message])
        }
        try "{not json".write(toFile: configPath, atomically: true, encoding: .utf8)
        expectOneLine(loadError(folder), mentions: [configPath, "not valid JSON"])
    }

    /// The other configs of a pipeline: values that used to trap or to write a white image.
    @Test func badSchedulerTextEncoderVAEAndTokenizerValues() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sd = "\(dir)/sd"
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-sd"), toPath: sd)
        func edit(_ relative: String, _ change: (inout [String: Any]) -> Void) throws -> String {
            let path = "\(sd)/\(relative)"
            var json = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            change(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
            return path
        }
        func loadError() -> InputError? {
            do { _ = try DiffusionModel(folder: sd); return nil } catch let e as InputError { return e } catch {
                Issue.record("not an InputError: \(error)")
                return nil
            }
        }
        let cases: [(String, String, Any, String)] = [
            ("scheduler/scheduler_config.json", "beta_start", -1e9, "'beta_start' is -1e+09"),
            ("scheduler/scheduler_config.json", "beta_end", 2.0, "'beta_end' is 2.0"),
            ("scheduler/scheduler_config.json", "steps_offset", -1, "'steps_offset' is -1"),
            ("text_encoder/config.json", "layer_norm_eps", -1, "'layer_norm_eps' is -1"),
            ("text_encoder/config.json", "max_position_embeddings", -5, "'max_position_embeddings' is -5"),
            ("text_encoder/config.json", "eos_token_id", 49408, "'eos_token_id' is 49408"),
            ("vae/config.json", "layers_per_block", 0, "'layers_per_block' is 0"),
            ("vae/config.json", "norm_num_groups", 0, "'norm_num_groups' is 0"),
            ("vae/config.json", "scaling_factor", 0, "'scaling_factor' is 0"),
            ("tokenizer/tokenizer_config.json", "model_max_length", 78, "model_max_length 78 does not fit"),
        ]
        for (file, key, value, message) in cases {
            let path = "\(sd)/\(file)"
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            _ = try edit(file) { $0[key] = value }
            expectOneLine(loadError(), mentions: [path, message])
            try original.write(to: URL(fileURLWithPath: path))
        }
        // A vocabulary id past the text encoder's table, and a negative one.
        let vocabPath = "\(sd)/tokenizer/vocab.json"
        let vocab = try Data(contentsOf: URL(fileURLWithPath: vocabPath))
        for id in [49408, -3] {
            _ = try edit("tokenizer/vocab.json") { $0["a</w>"] = id }
            expectOneLine(loadError(), mentions: [vocabPath, "'a</w>' has id \(id)"])
        }
        try vocab.write(to: URL(fileURLWithPath: vocabPath))
        #expect(loadError() == nil)
    }

    /// A UNet taking 8 channels beside a 4-channel VAE loads as an instruction model
    /// (InstructPix2Pix); an inpainting-style 9 is refused in one line instead of trapping in the
    /// first convolution.
    @Test func aUNetWhoseChannelsDoNotFitTheVAEIsRefused() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sd = "\(dir)/sd"
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-sd"), toPath: sd)
        let config = "\(sd)/unet/config.json"
        let original = try Data(contentsOf: URL(fileURLWithPath: config))
        let weightsPath = "\(sd)/unet/diffusion_pytorch_model.safetensors"
        let file = try SafetensorsFile(path: weightsPath)
        let weights = Dictionary(uniqueKeysWithValues: try file.entries.keys.map { ($0, try file.tensor($0)) })
        func load(inChannels: Int) throws -> DiffusionModel {
            var json = try JSONSerialization.jsonObject(with: original) as! [String: Any]
            json["in_channels"] = inChannels
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: config))
            var changed = weights
            let w = weights["conv_in.weight"]!
            changed["conv_in.weight"] = Tensor(zeros: [w.shape[0], inChannels, w.shape[2], w.shape[3]])
            try SafetensorsFile.write(changed, to: weightsPath)
            _ = try UNet2DConditionModel(folder: "\(sd)/unet")
            return try DiffusionModel(folder: sd)
        }
        #expect(try load(inChannels: 8).isInstructionModel)
        var caught: InputError?
        do { _ = try load(inChannels: 9) } catch let e as InputError { caught = e }
        expectOneLine(caught, mentions: [config, "in_channels 9 is neither the VAE's latent_channels, 4"])
    }

    /// Variant weights as diffusers names them: `--variant fp16` loads `….fp16.safetensors` (the
    /// plain files in a component that has no fp16 ones); with
    /// none the plain files win, a folder holding only one variant uses it, and one holding several
    /// asks which. A published model_index.json's safety checker and feature extractor, whose
    /// folders a converted checkpoint often lacks, are accepted.
    @Test func variantWeightsAndAPublishedModelIndex() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sd = "\(dir)/sd"
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-sd"), toPath: sd)
        let unet = "\(sd)/unet"
        let plain = "\(unet)/diffusion_pytorch_model.safetensors"
        let file = try SafetensorsFile(path: plain)
        let weights = Dictionary(uniqueKeysWithValues: try file.entries.keys.map { ($0, try file.tensor($0)) })
        // The fp16 variant differs from the plain file in one bias, so the two can be told apart.
        var fp16 = weights
        fp16["conv_out.bias"] = fp16["conv_out.bias"]!.linearCombination(1, Tensor(shape: fp16["conv_out.bias"]!.shape, repeating: 1), 1)
        try SafetensorsFile.write(fp16, to: "\(unet)/diffusion_pytorch_model.fp16.safetensors")
        #expect(try ModelFolder.weightsFiles(in: unet) == [plain])
        #expect(try ModelFolder.weightsFiles(in: unet, variant: "fp16") == ["\(unet)/diffusion_pytorch_model.fp16.safetensors"])
        let withVariant = try DiffusionModel(folder: sd, variant: "fp16")
        #expect(withVariant.unet.convOut.bias == fp16["conv_out.bias"])
        #expect(try ModelFolder.weightsFiles(in: unet, variant: "bf16") == [plain], "no bf16 files: the plain ones")
        try FileManager.default.removeItem(atPath: plain)
        #expect(try ModelFolder.weightsFiles(in: unet) == ["\(unet)/diffusion_pytorch_model.fp16.safetensors"])
        var caught: InputError?
        do { _ = try ModelFolder.weightsFiles(in: unet, variant: "bf16") } catch let e as InputError { caught = e }
        expectOneLine(caught, mentions: [unet, "no 'bf16' weights", "fp16"])
        try SafetensorsFile.write(weights, to: "\(unet)/diffusion_pytorch_model.ema.safetensors")
        caught = nil
        do { _ = try ModelFolder.weightsFiles(in: unet) } catch let e as InputError { caught = e }
        expectOneLine(caught, mentions: [unet, "ema, fp16", "--variant"])
        // Sharded variant files with their index.
        #expect(ModelFolder.variantName("diffusion_pytorch_model-00001-of-00002.fp16.safetensors") == "fp16")
        #expect(ModelFolder.variantName("diffusion_pytorch_model.safetensors.index.fp16.json") == "fp16")
        #expect(ModelFolder.variantName("diffusion_pytorch_model-00001-of-00002.safetensors") == nil)
        #expect(ModelFolder.variantName("model.safetensors") == nil)

        let index = "\(sd)/model_index.json"
        var json = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: index))) as! [String: Any]
        json["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
        json["feature_extractor"] = ["transformers", "CLIPImageProcessor"]
        json["requires_safety_checker"] = true
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: index))
        #expect(throws: Never.self) { _ = try DiffusionModel(folder: sd, variant: "fp16") }
    }

    /// Older transformers save `position_ids` as I64: read it, and refuse one that is not 0..<n.
    @Test func int64PositionIdsLoadAndAreChecked() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-sd/text_encoder"), toPath: "\(dir)/te")
        let path = "\(dir)/te/model.safetensors"
        let file = try SafetensorsFile(path: path)
        var raw = [String: SafetensorsFile.RawTensor]()
        for name in file.entries.keys {
            let t = try file.tensor(name)
            raw[name] = .init(dtype: "F32", shape: t.shape, bytes: t.storage.withUnsafeBytes { Data($0) })
        }
        let reference = try CLIPTextModel(folder: "\(dir)/te")([[49406, 320, 49407]]).lastHiddenState
        for (positions, ok) in [(Array(0..<77), true), (Array(0..<76) + [0], false)] {
            let ids = positions.map { Int64($0).littleEndian }
            raw["embeddings.position_ids"] = .init(dtype: "I64", shape: [1, 77], bytes: ids.withUnsafeBytes { Data($0) })
            try SafetensorsFile.write(raw: raw, to: path)
            if ok {
                #expect(try CLIPTextModel(folder: "\(dir)/te")([[49406, 320, 49407]]).lastHiddenState == reference)
            } else {
                var caught: InputError?
                do { _ = try CLIPTextModel(folder: "\(dir)/te") } catch let e as InputError { caught = e }
                expectOneLine(caught, mentions: [path, "position_ids", "at position 76"])
            }
        }
    }

    @Test func pipelineFolderProblems() throws {
        let dir = Fixtures.scratch()
        try FileManager.default.copyItem(atPath: Fixtures.path("tiny-sd"), toPath: "\(dir)/sd")
        let index = "\(dir)/sd/model_index.json"
        let text = try String(contentsOfFile: index, encoding: .utf8)
        try text.replacingOccurrences(of: "\"AutoencoderKL\"", with: "\"AutoencoderTiny\"").write(toFile: index, atomically: true, encoding: .utf8)
        var caught: InputError?
        do { _ = try DiffusionModel(folder: "\(dir)/sd") } catch let e as InputError { caught = e }
        expectOneLine(caught, mentions: [index, "'vae'", "AutoencoderTiny"])
        try FileManager.default.removeItem(atPath: index)
        caught = nil
        do { _ = try DiffusionModel(folder: "\(dir)/sd") } catch let e as InputError { caught = e }
        expectOneLine(caught, mentions: [index, "no such file"])
    }
}

@Suite struct SafetensorsFileTests {
    @Test func writeThenReadRoundTripsAndLeavesNoTemporaryFile() throws {
        let dir = Fixtures.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = RandomGenerator(seed: 9)
        let tensors = ["a.weight": rng.normal([3, 5]), "b": rng.normal([7]), "empty": Tensor(zeros: [0])]
        try SafetensorsFile.write(tensors, metadata: ["k": "v"], to: "\(dir)/t.safetensors")
        let file = try SafetensorsFile(path: "\(dir)/t.safetensors")
        #expect(file.metadata["k"] == "v")
        for (name, t) in tensors { #expect(try file.tensor(name) == t) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["t.safetensors"])
    }

    @Test func nanIsNotHiddenByComparisons() {
        let a = Tensor(shape: [2], storage: [1, .nan]), b = Tensor(shape: [2], storage: [1, 2])
        #expect(a.maxAbsDifference(b).isNaN)
        #expect(a.maxAbs.isNaN)
        #expect(a.nonFiniteCount == 1)
    }
}
