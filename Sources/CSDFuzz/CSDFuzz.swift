import Foundation

#if FUZZING
/// libFuzzer's entry point; the target is `CSD_FUZZ_TARGET` (see scripts/fuzz.sh).
let fuzzTarget = ProcessInfo.processInfo.environment["CSD_FUZZ_TARGET"] ?? "safetensors"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    FuzzTargets.run(fuzzTarget, bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}
#else
/// `csd-fuzz TARGET FILE_OR_FOLDER…`: runs each input through a fuzz target (the corpora under
/// Fuzz/, or a crash libFuzzer found), outside libFuzzer. Built with -DFUZZING and
/// `--sanitize fuzzer`, this executable is the fuzzer itself (scripts/fuzz.sh).
@main
struct CSDFuzz {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let target = arguments.first, FuzzTargets.names.contains(target) else {
            FileHandle.standardError.write(Data("usage: csd-fuzz \(FuzzTargets.names.joined(separator: "|")) FILE_OR_FOLDER…\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                FuzzTargets.run(target, data)
                count += 1
            }
        }
        print("\(target): \(count) inputs, no crash")
    }
}
#endif
