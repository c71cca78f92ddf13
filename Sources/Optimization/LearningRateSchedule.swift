import Foundation

/// Shape of the learning-rate curve after warmup.
public enum ScheduleKind: String, CaseIterable, Codable, Sendable {
    case linear, cosine, constant
}

/// Warmup length, either in optimizer steps or as a fraction of all steps.
public enum Warmup: Equatable, Codable, Sendable, CustomStringConvertible {
    case steps(Int)
    case ratio(Double)

    /// HF convention: values below 1 are a ratio, whole numbers from 1 up are steps.
    public init?(parsing text: String) {
        guard let value = Double(text), value.isFinite, value >= 0 else { return nil }
        if value < 1 {
            self = .ratio(value)
        } else if value == value.rounded(), value <= Double(Int32.max) {
            self = .steps(Int(value))
        } else {
            return nil
        }
    }

    /// `TrainingArguments.get_warmup_steps`: a ratio rounds up.
    public func steps(totalSteps: Int) -> Int {
        switch self {
        case .steps(let n): return n
        case .ratio(let r): return Int((Double(totalSteps) * r).rounded(.up))
        }
    }

    public var description: String {
        switch self {
        case .steps(let n): return "\(n)"
        case .ratio(let r): return "\(r)"
        }
    }
}

/// Learning rate per optimizer step, numerically as HF `get_{linear,cosine,constant}_schedule_with_warmup`
/// wrapped in `LambdaLR`: the update that follows `completedSteps` updates uses `rate(afterSteps:)`,
/// so the very first update under warmup uses rate 0, as in HF `Trainer`.
public struct LearningRateSchedule: Equatable, Sendable {
    public let kind: ScheduleKind
    public let peakRate: Double
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(kind: ScheduleKind, peakRate: Double, warmupSteps: Int, totalSteps: Int) {
        self.kind = kind
        self.peakRate = peakRate
        self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = max(0, totalSteps)
    }

    /// The multiplier of `peakRate` (HF's `lr_lambda`) at `step` completed updates.
    public func factor(atStep step: Int) -> Double {
        if step < warmupSteps {
            return Double(step) / Double(max(1, warmupSteps))
        }
        let decaySteps = Double(max(1, totalSteps - warmupSteps))
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / decaySteps)
        case .cosine:
            let progress = Double(step - warmupSteps) / decaySteps
            return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
        }
    }

    public func rate(atStep step: Int) -> Double { peakRate * factor(atStep: step) }
}
