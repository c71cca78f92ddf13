import Foundation
import Reporting

/// Training progress on stderr: on a terminal one line rewritten in place (`\r`), otherwise
/// plain lines at a slower pace so logs stay readable.
public final class ProgressReporter {
    public let totalSteps: Int
    public let isTerminal: Bool
    private let write: (String) -> Void
    private let plainEvery: Int
    private var smoothed: Double = 0
    private var smoothedSamples = 0
    private var lastDraw: Double = -.infinity
    private var lineOpen = false

    /// - Parameters:
    ///   - plainEvery: in plain (non-TTY) mode, print every this many steps.
    ///   - write: where text goes (stderr by default).
    public init(totalSteps: Int, isTerminal: Bool = isatty(STDERR_FILENO) != 0, plainEvery: Int = 10,
                write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.totalSteps = totalSteps
        self.isTerminal = isTerminal
        self.plainEvery = max(1, plainEvery)
        self.write = write
    }

    /// Loss smoothed with a bias-corrected exponential moving average (β = 0.98).
    public var smoothedLoss: Double {
        smoothedSamples == 0 ? .nan : smoothed / (1 - pow(0.98, Double(smoothedSamples)))
    }

    public func record(loss: Double) {
        guard loss.isFinite else { return }
        smoothed = 0.98 * smoothed + 0.02 * loss
        smoothedSamples += 1
    }

    /// Shows the state after `step` updates. `secondsPerStep` drives the ETA.
    public func show(step: Int, learningRate: Double, tokensPerSecond: Double, secondsPerStep: Double, now: Double) {
        let remaining = Double(max(0, totalSteps - step)) * secondsPerStep
        let width = String(totalSteps).count
        let stepText = String(repeating: " ", count: max(0, width - String(step).count)) + String(step)
        let line = "step \(stepText)/\(totalSteps)  loss \(format(smoothedLoss, digits: 4))  lr "
            + String(format: "%.2e", learningRate) + "  \(Int(tokensPerSecond.rounded())) tok/s  ETA "
            + formatDuration(remaining)
        if isTerminal {
            // Redraw at most ten times a second, and always on the last step.
            guard now - lastDraw >= 0.1 || step == totalSteps else { return }
            lastDraw = now
            write("\r\u{1B}[2K" + line)
            lineOpen = true
        } else if step % plainEvery == 0 || step == totalSteps {
            write(line + "\n")
        }
    }

    /// Prints a full line (eval results, checkpoint notes) without garbling the progress line.
    public func message(_ text: String) {
        clearLine()
        write(text + "\n")
    }

    /// Removes the progress line, so that other output starts on a line of its own.
    public func clearLine() {
        if lineOpen {
            write("\r\u{1B}[2K")
            lineOpen = false
        }
        lastDraw = -.infinity
    }

    /// Ends the in-place line.
    public func finish() {
        if lineOpen {
            write("\n")
            lineOpen = false
        }
    }
}

func format(_ value: Double, digits: Int) -> String {
    value.isFinite ? String(format: "%.\(digits)f", value) : "-"
}
