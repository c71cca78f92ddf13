import Foundation
import Testing
@testable import Training

@Suite struct ProgressTests {
    final class Sink: @unchecked Sendable {
        var text = ""
    }

    @Test func terminalRewritesOneLineInPlace() {
        let sink = Sink()
        let progress = ProgressReporter(totalSteps: 100, isTerminal: true) { sink.text += $0 }
        progress.record(loss: 2.0)
        progress.show(step: 1, learningRate: 1e-4, tokensPerSecond: 1234, secondsPerStep: 0.5, now: 0)
        progress.record(loss: 2.0)
        progress.show(step: 2, learningRate: 1e-4, tokensPerSecond: 1234, secondsPerStep: 0.5, now: 1)
        progress.message("eval")
        progress.finish()
        #expect(sink.text.components(separatedBy: "\r\u{1B}[2K").count == 4)  // two draws and the clear before "eval"
        #expect(sink.text.contains("step   2/100  loss 2.0000  lr 1.00e-04  1234 tok/s  ETA 49s"))
        #expect(sink.text.hasSuffix("eval\n"))
    }

    @Test func plainOutputPrintsWholeLinesEveryTenSteps() {
        let sink = Sink()
        let progress = ProgressReporter(totalSteps: 25, isTerminal: false) { sink.text += $0 }
        for step in 1...25 {
            progress.record(loss: 1.0)
            progress.show(step: step, learningRate: 1e-3, tokensPerSecond: 10, secondsPerStep: 2, now: Double(step))
        }
        let lines = sink.text.split(separator: "\n")
        #expect(lines.count == 3)  // steps 10, 20 and the last
        #expect(!sink.text.contains("\r"))
        #expect(lines.last?.hasPrefix("step 25/25") == true)
    }

    @Test func smoothedLossIsBiasCorrected() {
        let progress = ProgressReporter(totalSteps: 1, isTerminal: false) { _ in }
        progress.record(loss: 3.0)
        #expect(abs(progress.smoothedLoss - 3.0) < 1e-12)
        progress.record(loss: 1.0)
        // (0.98·0.02·3 + 0.02·1) / (1 − 0.98²)
        #expect(abs(progress.smoothedLoss - (0.98 * 0.02 * 3 + 0.02) / (1 - 0.98 * 0.98)) < 1e-12)
    }
}
