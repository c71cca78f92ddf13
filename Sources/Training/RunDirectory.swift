import Checkpoint
import Foundation
import Reporting

/// Names inside a run's output folder, besides the checkpoints `CheckpointStore` manages.
public enum RunDirectory {
    public static let metricsFileName = "metrics.jsonl"
    public static let settingsFileName = "run.json"

    /// `runs/<yyyy-mm-dd-HHMMSS>-adapt-<corpus name>-<mask>` (UTC): the scheme of `RunFolder`, shared with classify/ner.
    public static func defaultURL(corpus: [String], mask: MaskingKind, date: Date = Date(),
                                  root: URL = URL(fileURLWithPath: RunFolder.root)) -> URL {
        RunFolder.defaultURL(command: "adapt", data: RunFolder.dataName(corpus.first), variant: mask.rawValue, date: date,
                             root: root)
    }
}
