import Core
import Foundation
import NeRF
import Video

/// One fuzz target per parser a user's file reaches. Each takes arbitrary bytes and must return:
/// a malformed input is an `InputError` (or FFmpeg's error), never a trap, a hang or an
/// allocation out of proportion to the input.
enum FuzzTargets {
    static let names = ["safetensors", "config", "tokenizer", "transforms", "png", "video"]

    static func run(_ name: String, _ data: Data) {
        switch name {
        case "safetensors": safetensors(data)
        case "config": config(data)
        case "tokenizer": tokenizer(data)
        case "transforms": transforms(data)
        case "png": png(data)
        case "video": video(data)
        default: fatalError("no fuzz target '\(name)' (targets: \(names.joined(separator: ", ")))")
        }
    }

    /// A folder of this process's own for the targets that read files.
    static let scratch: String = {
        let dir = "\(NSTemporaryDirectory())/csd-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func write(_ data: Data, _ name: String) -> String {
        let path = "\(scratch)/\(name)"
        FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    /// A safetensors header and data, then what reads it: every tensor (up to 2²⁰ elements in
    /// all), a single-file checkpoint's views and configs, a LoRA's factors.
    static func safetensors(_ data: Data) {
        guard let file = try? SafetensorsFile(data: data, path: "fuzz.safetensors") else { return }
        var budget = 1 << 20
        for (name, entry) in file.entries.sorted(by: { $0.key < $1.key }) {
            let count = entry.shape.reduce(1, *)
            guard count <= budget else { break }
            budget -= count
            _ = try? file.tensor(name)
            _ = try? file.rawTensor(name)
        }
        if let checkpoint = try? SingleFileCheckpoint(file: file) {
            _ = try? ConfigFile.decode(UNet2DConditionModelConfiguration.self, json: checkpoint.unetConfig, path: file.path).validate(path: file.path)
            _ = try? ConfigFile.decode(AutoencoderKLConfiguration.self, json: checkpoint.vaeConfig, path: file.path).validate(path: file.path)
            _ = try? ConfigFile.decode(CLIPTextModelConfiguration.self, json: checkpoint.textEncoderConfig, path: file.path).validate(path: file.path)
        }
        _ = try? LoRA(file: file, scale: 1)
    }

    /// A config.json of each kind (the first byte picks which), decoded and range-checked as the
    /// loaders do before building any layer; a scheduler's schedule is then computed.
    static func config(_ data: Data) {
        guard let kind = data.first else { return }
        let json = data.dropFirst()
        switch kind % 5 {
        case 0: _ = try? ConfigFile.decode(UNet2DConditionModelConfiguration.self, data: json, path: "unet/config.json").validate(path: "")
        case 1: _ = try? ConfigFile.decode(AutoencoderKLConfiguration.self, data: json, path: "vae/config.json").validate(path: "")
        case 2: _ = try? ConfigFile.decode(CLIPTextModelConfiguration.self, data: json, path: "text_encoder/config.json").validate(path: "")
        case 3:
            guard let c = try? ConfigFile.decode(SchedulerConfiguration.self, data: json, path: "scheduler_config.json"),
                  (try? c.validate(path: "")) != nil else { return }
            let schedule = NoiseSchedule(c)
            guard let scheduler = try? DDIMScheduler.validated(schedule: schedule, steps: 1 + Int(kind) % 50) else { return }
            let x = Tensor(shape: [1, 1, 1, 1], repeating: 0.5)
            for t in scheduler.timesteps { _ = scheduler.step(modelOutput: x, timestep: t, sample: x, useClippedModelOutput: true) }
        default:
            _ = try? TransformsFile.decode(json, file: "transforms.json")
        }
    }

    /// vocab.json, a zero byte, merges.txt; then a few texts encoded, one of them from the input.
    static func tokenizer(_ data: Data) {
        let split = data.firstIndex(of: 0) ?? data.endIndex
        let vocabulary = write(data[data.startIndex..<split], "vocab.json")
        let merges = write(split < data.endIndex ? data[(split + 1)...] : Data(), "merges.txt")
        guard let t = try? CLIPTokenizer(vocabularyPath: vocabulary, mergesPath: merges, maxLength: 77) else { return }
        for text in ["a red ball on grass", "", String(decoding: data.prefix(200), as: UTF8.self)] { _ = t.encode(text) }
    }

    /// A transforms.json beside a 2×2 PNG named img.png, read as a dataset.
    static let datasetFolder: String = {
        let dir = "\(scratch)/dataset"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? RGBImage(width: 2, height: 2, pixels: Array(repeating: 128, count: 12)).writePNG(to: "\(dir)/img.png")
        return dir
    }()

    static func transforms(_ data: Data) {
        FileManager.default.createFile(atPath: "\(datasetFolder)/transforms.json", contents: data)
        _ = try? NeRFDataset(path: datasetFolder)
    }

    /// A PNG whose chunks' checksums are first made right (`withChunkChecksumsRepaired`), so
    /// that a mutated header or chunk reaches the reader's own handling instead of stopping at
    /// libpng's CRC check.
    static func png(_ data: Data) {
        _ = try? RGBImage(pngPath: write(withChunkChecksumsRepaired(data), "image.png"))
    }

    /// `data` with each whole chunk's CRC-32 (over its type and data) rewritten after the 8-byte
    /// signature, as far as the chunks' lengths stay inside the data.
    static func withChunkChecksumsRepaired(_ data: Data) -> Data {
        var bytes = [UInt8](data)
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length <= bytes.count - offset - 12 else { break }
            let crc = crc32(bytes[(offset + 4)..<(offset + 8 + length)])
            for k in 0..<4 { bytes[offset + 8 + length + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * k)) }
            offset += 12 + length
        }
        return Data(bytes)
    }

    /// PNG's CRC-32 (ISO 3309, the reflected polynomial 0xEDB88320).
    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// Any container FFmpeg opens, through the project's reader: up to three frames.
    static func video(_ data: Data) {
        guard let reader = try? VideoReader(path: write(data, "video.bin")) else { return }
        for _ in 0..<3 { guard (try? reader.nextFrame()) != nil else { break } }
    }
}
