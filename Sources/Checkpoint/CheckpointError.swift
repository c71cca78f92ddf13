/// Every failure names the file and, where one is at fault, the tensor.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case io(file: String, reason: String)
    case corruptGzip(file: String, reason: String)
    case invalidHeader(file: String, reason: String)
    case invalidTensor(file: String, tensor: String, reason: String)
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    case missingTensors(file: String, names: [String])
    case configMismatch(file: String, reason: String)
    case vocabMismatch(file: String, reason: String)
    case invalidModelFolder(folder: String, reason: String)
    /// A path that is none of the kinds `CheckpointReference` accepts.
    case notACheckpoint(path: String, found: String, expected: String)

    public var description: String {
        switch self {
        case .io(let file, let reason):
            return "\(file): \(reason)"
        case .corruptGzip(let file, let reason):
            return "\(file): corrupt gzip data: \(reason)"
        case .invalidHeader(let file, let reason):
            return "\(file): invalid safetensors header: \(reason)"
        case .invalidTensor(let file, let tensor, let reason):
            return "\(file): tensor '\(tensor)': \(reason)"
        case .shapeMismatch(let file, let tensor, let expected, let found):
            return "\(file): tensor '\(tensor)' has shape \(found), the model config needs \(expected)"
        case .missingTensors(let file, let names):
            let shown = names.prefix(8).joined(separator: ", ")
            let more = names.count > 8 ? " and \(names.count - 8) more" : ""
            return "\(file): missing \(names.count) tensor(s): \(shown)\(more)"
        case .configMismatch(let file, let reason):
            return "\(file): config mismatch: \(reason)"
        case .vocabMismatch(let file, let reason):
            return "\(file): vocab mismatch: \(reason)"
        case .invalidModelFolder(let folder, let reason):
            return "\(folder): \(reason)"
        case .notACheckpoint(let path, let found, let expected):
            return "\(path): \(found); expected \(expected)"
        }
    }
}
