import Foundation
import Testing

@Suite struct SampleCommandTests {
    @Test func samplesAPNGAtTheModelsSize() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let output = "\(dir)/out.png"
        let result = try CommandRunner.run(["sample", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--prompt", "a red ball on grass",
                                            "--steps", "3", "--seed", "4", "-o", output])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let data = try #require(FileManager.default.contents(atPath: output))
        #expect(data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        // IHDR width and height, big-endian, at bytes 16..<24: the model's sample_size 8 × VAE factor 2.
        let width = data[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = data[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 16 && height == 16)
        let again = try CommandRunner.run(["sample", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--prompt", "a red ball on grass",
                                           "--steps", "3", "--seed", "4", "-o", "\(dir)/again.png"])
        #expect(again.status == 0)
        #expect(FileManager.default.contents(atPath: "\(dir)/again.png") == data, "the same seed gives the same image")
    }

    /// An SDXL folder (two text encoders, time ids) samples and edits through the same commands.
    @Test func anSDXLModelSamplesAndEdits() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = "\(CommandRunner.fixtures)/tiny-sdxl"
        let sampled = try CommandRunner.run(["sample", "--model", model, "--prompt", "a red ball on grass", "--steps", "2",
                                             "--size", "16x16", "-o", "\(dir)/in.png"])
        #expect(sampled.status == 0, "stderr: \(sampled.stderr)")
        let edited = try CommandRunner.run(["edit", "image", "\(dir)/in.png", "-o", "\(dir)/out.png", "--model", model,
                                            "--source", "a red ball on grass", "--target", "a blue ball on grass", "--steps", "3"])
        #expect(edited.status == 0, "stderr: \(edited.stderr)")
        let input = FileManager.default.contents(atPath: "\(dir)/in.png"), output = FileManager.default.contents(atPath: "\(dir)/out.png")
        #expect(input != nil && output != nil && input != output)
    }

    /// `--lora FILE[:scale]`, repeatable, changes the image; a LoRA that does not fit is one line.
    @Test func loRAsMergeIntoTheModelAndOneThatDoesNotFitFailsCleanly() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["sample", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--prompt", "a red ball on grass", "--steps", "2"]
        let kohya = "\(CommandRunner.fixtures)/lora/kohya.safetensors", peft = "\(CommandRunner.fixtures)/lora/peft.safetensors"
        var images = [Data]()
        for (i, loras) in [[], ["--lora", "\(kohya):0.7"], ["--lora", "\(kohya):0.7", "--lora", peft]].enumerated() {
            let result = try CommandRunner.run(base + loras + ["-o", "\(dir)/\(i).png"])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            images.append(FileManager.default.contents(atPath: "\(dir)/\(i).png") ?? Data())
        }
        #expect(Set(images).count == 3, "each LoRA changes the image")
        try expectCleanFailure(["sample", "--model", "\(CommandRunner.fixtures)/single-file/sd1.safetensors", "--lora", kohya,
                                "--prompt", "x", "-o", "\(dir)/bad.png"], output: "\(dir)/bad.png", mentions: [kohya, "do not fit its weight"])
        try expectCleanFailure(base + ["--lora", "\(dir)/none.safetensors:0.5", "-o", "\(dir)/bad.png"],
                               output: "\(dir)/bad.png", mentions: ["\(dir)/none.safetensors", "no such file"])
    }

    /// Expects exit status 1, one line on stderr mentioning `parts`, and no file at `output` or beside it.
    func expectCleanFailure(_ arguments: [String], output: String, mentions parts: [String],
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CommandRunner.run(arguments)
        #expect(result.status != 0, sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        for part in parts { #expect(result.stderr.contains(part), "stderr: \(result.stderr)", sourceLocation: sourceLocation) }
        #expect(!FileManager.default.fileExists(atPath: output), sourceLocation: sourceLocation)
        let folder = URL(fileURLWithPath: output).deletingLastPathComponent().path
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)", sourceLocation: sourceLocation)
    }

    @Test func badInputFailsCleanly() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let output = "\(dir)/out.png"
        try expectCleanFailure(["sample", "--model", "\(dir)/nope", "--prompt", "x", "-o", output],
                               output: output, mentions: ["\(dir)/nope", "no such model folder"])
        try expectCleanFailure(["sample", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--prompt", "x", "-o", "\(dir)/missing/out.png"],
                               output: "\(dir)/missing/out.png", mentions: ["does not exist"])
        try expectCleanFailure(["sample", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--prompt", "x", "--size", "15x16", "-o", output],
                               output: output, mentions: ["--size", "multiples of"])
        try expectCleanFailure(["sample", "--model", "\(CommandRunner.fixtures)/tiny-sd", "--prompt", "  ", "-o", output],
                               output: output, mentions: ["--prompt"])

        // A model whose UNet weights are cut short.
        try FileManager.default.copyItem(atPath: "\(CommandRunner.fixtures)/tiny-sd", toPath: "\(dir)/sd")
        let weights = "\(dir)/sd/unet/diffusion_pytorch_model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: weights))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: weights))
        try expectCleanFailure(["sample", "--model", "\(dir)/sd", "--prompt", "x", "-o", output],
                               output: output, mentions: [weights, "truncated"])
    }
}

@Suite struct InstructionSampleCommandTests {
    /// `--image` and `--instruction` edit an image with an instruction model; every mismatch of
    /// model and options is one line and exit status 1.
    @Test func anInstructionModelEditsAnImageAndMismatchesAreOneLine() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (ip2p, sd) = ("\(CommandRunner.fixtures)/tiny-ip2p", "\(CommandRunner.fixtures)/tiny-sd")
        let drawn = try CommandRunner.run(["sample", "--model", sd, "--prompt", "a red ball", "--steps", "2", "-o", "\(dir)/in.png"])
        #expect(drawn.status == 0, "stderr: \(drawn.stderr)")
        let edited = try CommandRunner.run(["sample", "--model", ip2p, "--image", "\(dir)/in.png", "--instruction", "make the ball blue",
                                            "--steps", "3", "--image-guidance", "2", "-o", "\(dir)/out.png"])
        #expect(edited.status == 0, "stderr: \(edited.stderr)")
        #expect(FileManager.default.contents(atPath: "\(dir)/out.png") != nil)
        let cases: [([String], String)] = [
            (["sample", "--model", ip2p, "--prompt", "a red ball", "-o", "\(dir)/a.png"], "is an instruction model"),
            (["sample", "--model", sd, "--image", "\(dir)/in.png", "--instruction", "make it blue", "-o", "\(dir)/b.png"], "needs an instruction model"),
            (["sample", "--model", ip2p, "--instruction", "make it blue", "-o", "\(dir)/c.png"], "needs --image"),
            (["edit", "image", "\(dir)/in.png", "-o", "\(dir)/d.png", "--model", sd, "--instruction", "make it blue"], "needs an instruction model"),
            (["edit", "image", "\(dir)/in.png", "-o", "\(dir)/e.png", "--model", ip2p, "--source", "a", "--target", "b"], "is an instruction model"),
            (["edit", "image", "\(dir)/in.png", "-o", "\(dir)/f.png", "--model", ip2p, "--instruction", "x", "--target", "b"], "replaces --source and --target"),
            (["edit", "image", "\(dir)/in.png", "-o", "\(dir)/g.png", "--model", sd, "--source", "a", "--target", "b", "--image-guidance", "2"], "applies to edits by --instruction"),
        ]
        for (arguments, message) in cases {
            let r = try CommandRunner.run(arguments)
            #expect(r.status == 1 && r.stderr.contains(message) && r.stderr.split(separator: "\n").count == 1, "\(arguments): \(r.stderr)")
        }
        let byInstruction = try CommandRunner.run(["edit", "image", "\(dir)/in.png", "-o", "\(dir)/h.png", "--model", ip2p,
                                                   "--instruction", "make the ball blue", "--steps", "3"])
        #expect(byInstruction.status == 0, "stderr: \(byInstruction.stderr)")
        #expect(FileManager.default.contents(atPath: "\(dir)/h.png") != FileManager.default.contents(atPath: "\(dir)/in.png"))
    }
}
