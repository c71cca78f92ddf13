import Foundation

/// Defaults every command shares for how it runs (not what it computes).
public enum RuntimeDefaults {
    /// Worker threads: all active cores.
    public static var threads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
    public static let threadRange = 1...256
    public static let precision = Precision.auto
    /// Seed for data order, masking, dropout and initialisation.
    public static let seed: UInt64 = 42

    /// Why `--threads` cannot take `count`, or nil when it can.
    public static func threadsProblem(_ count: Int) -> String? {
        threadRange.contains(count) ? nil : "--threads \(count) must be in \(threadRange)"
    }
}
