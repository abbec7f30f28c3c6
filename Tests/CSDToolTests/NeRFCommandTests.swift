import Foundation
import Testing

@Suite struct NeRFCommandTests {
    @Test func fitsAWorldSceneThenRendersItsViews() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try CommandRunner.run(["world", "nerf", "--caption", "a green cone on snow", "--views", "12", "--size", "24", "-o", "\(dir)/scene"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try CommandRunner.run(["nerf", "fit", "\(dir)/scene", "-o", "\(dir)/field.safetensors", "--resolution", "24", "--samples", "32",
                                   "--steps", "150", "--rays", "512", "--hold-out", "4"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("PSNR on 3 held-out views"), "\(r.stdout)")
        r = try CommandRunner.run(["nerf", "render", "\(dir)/field.safetensors", "--scene", "\(dir)/scene", "-o", "\(dir)/views.png"])
        #expect(r.status == 0, "\(r.stderr)")
        let psnr = r.stdout.split(separator: " ").dropLast().last.flatMap { Double($0) }
        #expect((psnr ?? 0) > 18, "\(r.stdout)")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/views.png"))
    }

    @Test func badScenesAndFieldsAreOneLineErrors() throws {
        let dir = CommandRunner.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: "\(dir)/transforms.json", contents: Data("{\"frames\": []}".utf8))
        FileManager.default.createFile(atPath: "\(dir)/junk.safetensors", contents: Data(repeating: 7, count: 40))
        let cases: [([String], String)] = [
            (["nerf", "fit", "\(dir)/missing", "-o", "\(dir)/f.safetensors"], "no such file"),
            (["nerf", "fit", dir, "-o", "\(dir)/f.safetensors"], "no \"frames\""),
            (["nerf", "fit", dir, "-o", "\(dir)/f.safetensors", "--bounds", "1,1,1,0,0,0"], "--bounds"),
            (["nerf", "render", "\(dir)/junk.safetensors", "--scene", dir, "-o", "\(dir)/v.png"], "junk.safetensors"),
        ]
        for (arguments, message) in cases {
            let r = try CommandRunner.run(arguments)
            #expect(r.status != 0 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/f.safetensors") && !FileManager.default.fileExists(atPath: "\(dir)/v.png"))
    }
}
