/// Errors the trainer reports to the user; each message names the file or setting at fault.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case invalidSetting(String)
    case io(String)
    case data(String)
    case resume(String)
    /// Training stopped because its steps kept producing non-finite numbers.
    case diverged(String)

    public var description: String {
        switch self {
        case .invalidSetting(let m): return m
        case .io(let m): return m
        case .data(let m): return m
        case .resume(let m): return "cannot resume: \(m)"
        case .diverged(let m): return "training diverged: \(m)"
        }
    }
}
