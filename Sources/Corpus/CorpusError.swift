/// Every way a corpus can be unusable, each naming the file (and line where one applies).
/// Invalid UTF-8 is not here: it is replaced with U+FFFD and reported in `CorpusStats`.
public enum CorpusError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case noTextFiles(folder: String)
    case globMatchedNothing(pattern: String)
    /// No rows in `split`; `documents` counts the documents read in both splits.
    case emptyCorpus(sources: [String], split: CorpusSplit, documents: Int)
    case truncatedGzip(path: String)
    case corruptGzip(path: String, detail: String)
    case readFailed(path: String, detail: String)
    case invalidOptions(String)
    /// A table corpus (TSV/CSV/JSONL) that cannot be read; the text names the file, line and column.
    case invalidTable(String)
    case batchShapeMismatch(expectedSeqLength: Int, got: Int)
    case cursorMismatch(String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "corpus file not found: \(path)"
        case .noTextFiles(let folder):
            return "corpus folder contains no .txt or .gz files: \(folder)"
        case .globMatchedNothing(let pattern):
            return "corpus pattern matched no .txt or .gz files: \(pattern)"
        case .emptyCorpus(let sources, _, 0):
            return "the corpus holds no documents (its files are empty or blank): \(sources.joined(separator: ", "))"
        case .emptyCorpus(let sources, let split, let documents):
            return "none of the corpus's \(documents) document(s) fell in its \(split.rawValue) split: \(sources.joined(separator: ", "))"
        case .truncatedGzip(let path):
            return "gzip file ends before its compressed stream does (truncated?): \(path)"
        case .corruptGzip(let path, let detail):
            return "gzip file is corrupt: \(path): \(detail)"
        case .readFailed(let path, let detail):
            return "cannot read corpus file \(path): \(detail)"
        case .invalidTable(let detail):
            return "corpus table: \(detail)"
        case .invalidOptions(let detail):
            return "invalid corpus options: \(detail)"
        case .batchShapeMismatch(let expected, let got):
            return "TokenBatch seqLength \(got) does not match the corpus maxSeqLength \(expected)"
        case .cursorMismatch(let detail):
            return "cannot resume the corpus from this cursor: \(detail)"
        }
    }
}
