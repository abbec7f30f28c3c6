import Core
import Foundation
import Testing
@testable import CSD

/// The report is one HTML file: the pictures embedded (and readable back), a plot per statistic
/// the edit has, the command escaped.
@Suite struct EditReportTests {
    func picture(_ shift: Int) -> RGBImage {
        RGBImage(width: 8, height: 6, pixels: (0..<(8 * 6 * 3)).map { UInt8(($0 * 29 + shift) % 256) })
    }

    func report(coupled: Bool) -> EditReport {
        var report = EditReport(title: "csd edit video: a red ball → a blue ball", commandLine: "csd edit video in.mp4 --target '<b>'", settings: "{\"steps\": 3}")
        (report.before, report.after, report.contactSheet) = (picture(0), picture(7), picture(3))
        report.steps = (0..<3).map { k in
            EditStepStatistics(scoreRMS: 1 / Float(k + 1), changeRMS: 0.1 * Float(k), bandwidth: coupled ? 2 + Float(k) : nil, repulsionRatio: coupled ? 0.3 : nil)
        }
        report.metrics = [("PSNR to the ideal", "29.1 dB")]
        return report
    }

    /// The base64 payloads of the page's PNG data URLs.
    func embeddedPNGs(_ html: String) -> [Data] {
        html.components(separatedBy: "data:image/png;base64,").dropFirst().compactMap { Data(base64Encoded: String($0.prefix { $0 != "\"" })) }
    }

    @Test func thePageEmbedsThePicturesAndPlotsEachStatistic() throws {
        let html = try report(coupled: true).html()
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("</html>"))
        #expect(html.contains("--target &#39;&lt;b&gt;&#39;") || html.contains("--target '&lt;b&gt;'"), "the command is escaped")
        #expect(!html.contains("<b>"))
        #expect(html.components(separatedBy: "<polyline").count - 1 == 4, "score, change, bandwidth, repulsion")
        #expect(try report(coupled: false).html().components(separatedBy: "<polyline").count - 1 == 2, "no kernel plots without coupling")
        #expect(html.contains("type=\"range\"") && html.contains("29.1 dB"))
        // Slider (2), side by side (2), contact sheet (1); each reads back as the picture it shows.
        let pngs = embeddedPNGs(html)
        #expect(pngs.count == 5)
        let dir = NSTemporaryDirectory() + "report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var decoded = [RGBImage]()
        for (i, png) in pngs.enumerated() {
            try png.write(to: URL(fileURLWithPath: "\(dir)/\(i).png"))
            decoded.append(try RGBImage(pngPath: "\(dir)/\(i).png"))
        }
        #expect(decoded == [picture(0), picture(7), picture(0), picture(7), picture(3)])
    }

    @Test func theReportIsWrittenWholeOrNotAtAll() throws {
        let dir = NSTemporaryDirectory() + "report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try report(coupled: true).write(to: "\(dir)/r.html")
        #expect(try String(contentsOfFile: "\(dir)/r.html", encoding: .utf8) == report(coupled: true).html())
        #expect(throws: InputError.self) { try report(coupled: true).write(to: "\(dir)/missing/r.html") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["r.html"])
    }

    static let chromium = "/usr/bin/chromium"

    /// Rendered by headless Chromium (Debian's package, where installed), the slider shows the
    /// edited picture left of its middle and the source right of it: a red source edited to
    /// blue shows as much red as blue (the side-by-side pair adds one of each). Were the clip
    /// lost, the edited picture would cover the source.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: chromium)))
    func headlessChromiumRendersTheSliderHalfAndHalf() throws {
        let dir = NSTemporaryDirectory() + "report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func solid(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> RGBImage {
            RGBImage(width: 64, height: 48, pixels: (0..<(64 * 48)).flatMap { _ in [r, g, b] })
        }
        var page = EditReport(title: "red to blue", commandLine: "csd edit image red.png -o blue.png", settings: "{}")
        (page.before, page.after) = (solid(255, 0, 0), solid(0, 0, 255))
        try page.write(to: "\(dir)/report.html")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.chromium)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=800,900",
                             "--user-data-dir=\(dir)/profile", "--screenshot=\(dir)/shot.png", "file://\(dir)/report.html"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let shot = try RGBImage(pngPath: "\(dir)/shot.png")
        var (red, blue) = (0, 0)
        for p in 0..<(shot.width * shot.height) {
            let (r, g, b) = (shot.pixels[p * 3], shot.pixels[p * 3 + 1], shot.pixels[p * 3 + 2])
            if r > 240 && g < 15 && b < 15 { red += 1 }
            if b > 240 && r < 15 && g < 15 { blue += 1 }
        }
        // Slider: 256×192 px, half each; pair: 128×96 px each.
        #expect(red > 30_000 && blue > 30_000 && abs(red - blue) < 4_000, "red \(red), blue \(blue) pixels")
    }
}
