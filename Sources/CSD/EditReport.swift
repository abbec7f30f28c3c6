import Core
import Foundation

/// A self-contained HTML page about one edit, to look at in a browser: the command and its
/// settings, before and after (a slider over the two, side by side, and a contact sheet where
/// there is one), a plot per step statistic, and metrics where given. Images are embedded as PNG
/// data URLs, so the page is one file.
public struct EditReport {
    public var title: String
    /// The command as typed.
    public var commandLine: String
    /// The settings, as text (the edit's settings JSON, say).
    public var settings: String
    /// The same picture before and after the edit (the first frame of a video).
    public var before: RGBImage?, after: RGBImage?
    public var contactSheet: RGBImage?
    /// One entry per step, in order (a video's windows one after another).
    public var steps: [EditStepStatistics] = []
    /// Name and value pairs, shown as a table.
    public var metrics: [(name: String, value: String)] = []

    public init(title: String, commandLine: String, settings: String) {
        (self.title, self.commandLine, self.settings) = (title, commandLine, settings)
    }

    /// Writes the page atomically.
    public func write(to path: String) throws {
        try AtomicFile.checkDestination(path)
        let temporary = AtomicFile.temporaryPath(for: path)
        do {
            try Data(try html().utf8).write(to: URL(fileURLWithPath: temporary))
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw InputError(path, "cannot be written (\(error.localizedDescription))")
        }
        try AtomicFile.commit(temporary, to: path)
    }

    /// The page.
    public func html() throws -> String {
        var body = "<h1>\(Self.escaped(title))</h1>\n<pre class=\"command\">\(Self.escaped(commandLine))</pre>\n"
        if let before, let after, before.width == after.width, before.height == after.height {
            let (b, a) = (try Self.dataURL(before), try Self.dataURL(after))
            let width = max(256, min(before.width, 1024))
            body += """
                <h2>Before and after</h2>
                <p>Drag the slider: the edited picture is on the left of it, the source on the right.</p>
                <div class="compare" style="--x: 50%; width: \(width)px">
                <img src="\(b)" alt="before"><img class="after" src="\(a)" alt="after">
                <input type="range" min="0" max="100" value="50" aria-label="before and after" oninput="this.parentNode.style.setProperty('--x', this.value + '%')">
                </div>
                <div class="pair"><figure><img src="\(b)" style="width: \(width / 2)px" alt="before"><figcaption>before</figcaption></figure>
                <figure><img src="\(a)" style="width: \(width / 2)px" alt="after"><figcaption>after</figcaption></figure></div>

                """
        }
        if let contactSheet {
            body += "<h2>Contact sheet</h2>\n<img class=\"sheet\" src=\"\(try Self.dataURL(contactSheet))\" alt=\"contact sheet\">\n"
        }
        if !steps.isEmpty {
            body += "<h2>Steps</h2>\n"
            body += Self.plot(steps.map(\.scoreRMS), title: "score RMS (the size of DDS's gradient, the loss proxy)")
            body += Self.plot(steps.map(\.changeRMS), title: "change RMS (edited − source, model space)")
            let bandwidths = steps.compactMap(\.bandwidth), repulsion = steps.compactMap(\.repulsionRatio)
            if !bandwidths.isEmpty { body += Self.plot(bandwidths, title: "kernel bandwidth h (median heuristic)") }
            if !repulsion.isEmpty { body += Self.plot(repulsion, title: "repulsion ‖repulsive‖ / ‖driving‖ of the Stein update") }
        }
        if !metrics.isEmpty {
            body += "<h2>Metrics</h2>\n<table>\n" + metrics.map { "<tr><th>\(Self.escaped($0.name))</th><td>\(Self.escaped($0.value))</td></tr>" }.joined(separator: "\n") + "\n</table>\n"
        }
        body += "<h2>Settings</h2>\n<pre>\(Self.escaped(settings))</pre>\n"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(Self.escaped(title))</title>
            <style>
            body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; max-width: 1100px; color: #222; }
            pre { background: #f4f4f4; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
            img { image-rendering: pixelated; }
            .compare { position: relative; max-width: 100%; }
            .compare img { display: block; width: 100%; }
            .compare .after { position: absolute; top: 0; left: 0; clip-path: inset(0 calc(100% - var(--x)) 0 0); }
            .compare input { width: 100%; margin: 0.4em 0 0; }
            .pair { display: flex; gap: 1em; } figure { margin: 0.5em 0; } figcaption { text-align: center; color: #666; }
            .sheet { max-width: 100%; }
            svg { background: #fafafa; border: 1px solid #ddd; display: block; margin: 0.3em 0 1.2em; }
            table { border-collapse: collapse; } th, td { border: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; }
            </style></head>
            <body>
            \(body)</body></html>

            """
    }

    /// `values` as a line plot over their index: an inline SVG with its range labelled.
    static func plot(_ values: [Float], title: String) -> String {
        let (width, height, margin) = (640.0, 160.0, 36.0)
        let finite = values.map(Double.init).filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return "" }
        let span = high > low ? high - low : 1
        let points = values.enumerated().compactMap { i, v -> String? in
            guard v.isFinite else { return nil }
            let x = margin + (width - 2 * margin) * (values.count > 1 ? Double(i) / Double(values.count - 1) : 0.5)
            let y = height - margin / 2 - (height - margin) * (Double(v) - low) / span
            return String(format: "%.1f,%.1f", x, y)
        }
        return """
            <p>\(escaped(title))</p>
            <svg width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(escaped(title))">
            <polyline fill="none" stroke="#2a6fdb" stroke-width="1.5" points="\(points.joined(separator: " "))"/>
            <text x="4" y="14" font-size="11">\(String(format: "%.4g", high))</text>
            <text x="4" y="\(Int(height) - 6)" font-size="11">\(String(format: "%.4g", low))</text>
            <text x="\(Int(width) - 90)" y="\(Int(height) - 6)" font-size="11">\(values.count) steps</text>
            </svg>

            """
    }

    /// `image` as a PNG data URL.
    static func dataURL(_ image: RGBImage) throws -> String {
        let path = NSTemporaryDirectory() + "csd-report-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try image.writePNG(to: path)
        return "data:image/png;base64," + (try Data(contentsOf: URL(fileURLWithPath: path))).base64EncodedString()
    }

    /// `text` with HTML's special characters escaped.
    static func escaped(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
