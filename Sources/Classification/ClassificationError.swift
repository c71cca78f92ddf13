/// Errors from reading task data, matching labels and running a classifier. Each message
/// names the file and line, or the tensor, that is at fault.
public enum ClassificationError: Error, CustomStringConvertible, Equatable {
    case invalidData(String)
    case unknownLabel(String)
    case invalidCheckpoint(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidData(let m): return "invalid data: \(m)"
        case .unknownLabel(let m): return "unknown label: \(m)"
        case .invalidCheckpoint(let m): return "invalid checkpoint: \(m)"
        case .invalidArgument(let m): return "invalid argument: \(m)"
        }
    }
}
