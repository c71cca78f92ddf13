import Foundation

/// Where progress goes and how: on a terminal one line redrawn in place; otherwise (a file, a pipe)
/// a plain line every `plainInterval` seconds, so a log shows a long epoch advancing.
public struct ProgressStyle: Sendable {
    public var isTerminal: Bool
    public var plainInterval: Double
    public var write: @Sendable (String) -> Void

    public init(isTerminal: Bool, plainInterval: Double = 30, write: @escaping @Sendable (String) -> Void) {
        self.isTerminal = isTerminal; self.plainInterval = plainInterval; self.write = write
    }

    /// Standard error, unbuffered (each write is one `write(2)`, so a redirected log gets it at once).
    public static var standardError: ProgressStyle {
        ProgressStyle(isTerminal: isatty(STDERR_FILENO) != 0) { FileHandle.standardError.write(Data($0.utf8)) }
    }
}

/// Progress within one epoch of fine-tuning: step, mean loss so far, examples/s and the epoch's ETA.
public final class EpochProgress {
    public let style: ProgressStyle
    public let epoch: Int
    public let epochs: Int
    public let steps: Int
    private let clock: () -> Double
    private let started: Double
    private var lastDraw: Double
    private var lineOpen = false

    /// - Parameter clock: seconds on a monotonic clock (injectable for tests).
    public init(style: ProgressStyle, epoch: Int, epochs: Int, steps: Int,
                clock: @escaping () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.style = style; self.epoch = epoch; self.epochs = epochs; self.steps = steps; self.clock = clock
        started = clock()
        lastDraw = started
    }

    /// After `step` of `steps` (1-based), `examples` examples seen this epoch, mean train loss `meanLoss`.
    public func update(step: Int, meanLoss: Double, examples: Int) {
        let now = clock()
        let elapsed = now - started
        if style.isTerminal {
            guard now - lastDraw >= 0.1 || step == steps else { return }
        } else {
            // The epoch's own summary line follows its last step.
            guard now - lastDraw >= style.plainInterval, step < steps else { return }
        }
        lastDraw = now
        let rate = elapsed > 0 ? Double(examples) / elapsed : 0
        let remaining = step > 0 ? elapsed / Double(step) * Double(steps - step) : .nan
        let width = String(steps).count
        let stepText = String(repeating: " ", count: max(0, width - String(step).count)) + String(step)
        let line = "epoch \(epoch)/\(epochs) step \(stepText)/\(steps)  loss "
            + (meanLoss.isFinite ? String(format: "%.4f", meanLoss) : "-")
            + String(format: "  %.1f ex/s", rate) + "  ETA " + formatDuration(remaining)
        if style.isTerminal {
            style.write("\r\u{1B}[2K" + line)
            lineOpen = true
        } else {
            style.write(line + "\n")
        }
    }

    /// Clears the in-place line, so the next log line starts clean.
    public func finish() {
        if lineOpen {
            style.write("\r\u{1B}[2K")
            lineOpen = false
        }
    }
}

/// "1h02m", "3m05s", "42s".
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}
