import ArgumentParser
import Foundation
import Optimization
import Training

// Option groups shared by the training commands (adapt, classify, ner). Values are optional so a
// command can tell "given" from "default" (a resumed run keeps its saved settings unless told
// otherwise); each group's `resolved…` accessors apply the documented defaults.

extension MaskingKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}

extension Warmup: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// `--threads` and `--seed`.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads for BLAS and elementwise kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Seed for data order, masking, dropout and initialisation (default: 42).")
    var seed: UInt64?

    static let defaultSeed: UInt64 = 42
    static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    var resolvedThreads: Int { threads ?? Self.defaultThreads }
    var resolvedSeed: UInt64 { seed ?? Self.defaultSeed }

    func validate() throws {
        if let threads, threads < 1 || threads > 256 {
            throw ValidationError("--threads \(threads) must be in 1...256")
        }
    }
}

/// Optimiser, schedule and batch options.
struct OptimizationOptions: ParsableArguments {
    @Option(help: "Sequences per micro-batch (default: 16).")
    var batchSize: Int?

    @Option(help: "Micro-batches per optimizer step; gradients are averaged over all masked tokens (default: 1).")
    var gradAccum: Int?

    @Option(name: .customLong("lr"), help: "Peak learning rate (default: 5e-5).")
    var learningRate: Double?

    @Option(help: "Warmup: a ratio of all steps if below 1 (0.06), else a step count (500) (default: 0.06).")
    var warmup: Warmup?

    @Option(help: "Learning-rate schedule after warmup: linear, cosine or constant (default: linear).")
    var schedule: ScheduleKind?

    @Option(help: "AdamW decoupled weight decay; none on biases and LayerNorm (default: 0.01).")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this; 0 disables (default: 1.0).")
    var maxGradNorm: Double?

    @Option(help: "Number of optimizer steps.")
    var maxSteps: Int?

    @Option(help: "Number of passes over the training data (instead of --max-steps).")
    var epochs: Double?

    func validate() throws {
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size \(batchSize) must be at least 1") }
        if let gradAccum, gradAccum < 1 { throw ValidationError("--grad-accum \(gradAccum) must be at least 1") }
        if let learningRate, !(learningRate > 0 && learningRate < 1) {
            throw ValidationError("--lr \(learningRate) must be in (0, 1), e.g. 5e-5")
        }
        if let weightDecay, !(weightDecay >= 0 && weightDecay < 1) {
            throw ValidationError("--weight-decay \(weightDecay) must be in [0, 1)")
        }
        if let maxGradNorm, !(maxGradNorm >= 0 && maxGradNorm.isFinite) {
            throw ValidationError("--max-grad-norm \(maxGradNorm) must be 0 (off) or positive")
        }
        if maxSteps != nil && epochs != nil { throw ValidationError("give --max-steps or --epochs, not both") }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps \(maxSteps) must be at least 1") }
        if let epochs, !(epochs > 0 && epochs.isFinite) { throw ValidationError("--epochs \(epochs) must be positive") }
    }
}

/// `--cased` / `--uncased`.
enum Casing: String, EnumerableFlag {
    case cased, uncased

    static func help(for value: Casing) -> ArgumentHelp? {
        switch value {
        case .cased: return "Keep case (default: the model's tokenizer setting)."
        case .uncased: return "Lowercase and strip accents (default: the model's tokenizer setting)."
        }
    }

    var lowercase: Bool { self == .uncased }
}
