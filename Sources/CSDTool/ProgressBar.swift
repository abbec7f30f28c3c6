import Foundation

/// A one-line progress bar on stderr with steps/s and time left; plain lines when not a terminal.
final class ProgressBar {
    let label: String
    let total: Int
    let start = Date()
    let isTerminal = isatty(STDERR_FILENO) != 0
    var lastPrinted = Date.distantPast

    init(label: String, total: Int) { (self.label, self.total) = (label, total) }

    func update(_ done: Int) {
        guard !Console.isQuiet else { return }
        let now = Date()
        guard done == total || now.timeIntervalSince(lastPrinted) > (isTerminal ? 0.1 : 5) else { return }
        lastPrinted = now
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let left = rate > 0 ? Double(total - done) / rate : 0
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "%@ %@ %d/%d  %.2f it/s  %@ left", label, bar, done, total, rate, Self.clock(left))
        FileHandle.standardError.write(Data(((isTerminal ? "\r" : "") + line + (isTerminal ? "" : "\n")).utf8))
    }

    func finish() {
        if isTerminal && !Console.isQuiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
