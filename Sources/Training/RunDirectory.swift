import Checkpoint
import Foundation
import Masking
import Reporting

/// Names inside a run's output folder, besides the checkpoints `CheckpointStore` manages.
public enum RunDirectory {
    public static let metricsFileName = "metrics.jsonl"
    public static let settingsFileName = "run.json"

    /// `runs/<yyyy-mm-dd-HHMMSS>-adapt-<corpus name>-<mask>` (UTC): the scheme of `RunFolder`, shared with classify/ner.
    public static func defaultURL(corpus: [String], mask: MaskingStrategyKind, date: Date = Date(),
                                  root: URL = URL(fileURLWithPath: RunFolder.root)) -> URL {
        RunFolder.defaultURL(command: "adapt", data: RunFolder.dataName(corpus.first), variant: mask.rawValue, date: date,
                             root: root)
    }

    /// The checkpoint `--resume PATH` means: a file as is; for a run folder, the one its
    /// `latest` names, else its newest `step-N` checkpoint.
    public static func resolveResume(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw TrainingError.resume("\(path) does not exist")
        }
        guard isDirectory.boolValue else { return url }
        let store = CheckpointStore(directory: url)
        if let latest = try store.latest() { return latest }
        guard let newest = store.checkpoints().last else {
            throw TrainingError.resume("\(path) holds no step-N.safetensors.gz checkpoint")
        }
        return newest.url
    }
}
