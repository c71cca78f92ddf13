import Foundation

/// The documents of one split of a corpus, as text, in file order: what the streamer tokenizes, without
/// tokenizing, packing or shuffling. For tools that count over the training part of a corpus (the
/// vocabulary extension) or score its held-out part, so they see exactly the documents a run would.
public enum CorpusDocuments {
    /// Calls `body` with each document of `options.split` (by `options.validationFraction`, the run's
    /// hash-based split), invalid UTF-8 decoded as U+FFFD. Only `sources`, `mode`, `validationFraction`,
    /// `split` and `textColumn` matter.
    public static func forEach(_ options: CorpusOptions, _ body: (String) throws -> Void) throws {
        let wantValidation = options.split == .validation
        for path in try CorpusSources.resolve(options.sources).files {
            let reader = try DocumentReader(
                path: path, position: .start, mode: options.mode,
                textColumn: options.textColumn ?? CorpusOptions.defaultTextColumn)
            while try reader.next() {
                guard options.holdsOut(splitHash: reader.splitHash()) == wantValidation else { continue }
                try body(reader.decode().text)
            }
        }
    }
}
