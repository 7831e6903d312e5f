import Foundation

/// A one-line progress bar on standard error with rate and ETA, redrawn in place on a terminal and printed every
/// tenth of the way otherwise, and at least once a minute (so logs of unattended runs stay short yet show life).
final class ProgressBar {
    private let total: Int
    private let label: String
    private let start = Date()
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastPrintedTenth = -1
    private var lastPrinted = Date()
    private var recentValues: [Float] = []

    init(total: Int, label: String) {
        self.total = max(1, total)
        self.label = label
    }

    /// Reports `done` of `total` with the mean of the last 50 values given here as the suffix, e.g. "loss 0.0832"
    /// (a training loss, smoothed so the line is readable).
    func update(_ done: Int, runningMeanOf value: Float, named name: String, format: String = "%.4f") {
        recentValues.append(value)
        if recentValues.count > 50 { recentValues.removeFirst() }
        update(done, suffix: name + " " + String(format: format, recentValues.reduce(0, +) / Float(recentValues.count)))
    }

    /// Reports `done` of `total`, with an optional suffix such as the running reward.
    func update(_ done: Int, suffix: String = "") {
        let fraction = Double(done) / Double(total)
        let elapsed = Date().timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        let width = 28
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line =
            """
            \(label) \(bar) \(done)/\(total) \(formatDuration(elapsed)) elapsed, ETA \
            \(formatDuration(eta))\(suffix.isEmpty ? "" : " · " + suffix)
            """
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line + (done >= total ? "\n" : "")).utf8))
        } else {
            let tenth = Int(fraction * 10)
            if tenth != lastPrintedTenth || done >= total || Date().timeIntervalSince(lastPrinted) >= 60 {
                lastPrintedTenth = tenth
                lastPrinted = Date()
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
    }
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
    if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    return String(format: "%.1fs", seconds)
}
