import ArgumentParser
import Corpus
import Foundation
import Tokenizer
import Training

/// Trains a WordPiece vocabulary like HF `BertWordPieceTokenizer.train` / `WordPieceTrainer`, or extends
/// one with a corpus's most fragmented frequent words (`--extend`).
struct VocabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab",
        abstract: "Train a WordPiece vocabulary (like HF tokenizers' WordPieceTrainer) from text files, or extend one.",
        discussion: """
            Extending: mlm-adapt vocab --extend Vocab/bert-base-uncased.txt --corpus Corpora/legal.txt --add 2000 --out V.txt \
            keeps every token of the base at its id and appends the --add words that save the most pieces \
            (count × (pieces − 1), counted with the base tokenizer over the corpus's training documents: the \
            documents adapt holds out under --validation-split are skipped, and their pieces per word are \
            reported before and after). Adapt with it: mlm-adapt --corpus … --vocab-extension V.txt.
            """)

    @Option(parsing: .upToNextOption, help: "Text files (or folders, globs, tables) to train or count on.")
    var corpus: [String]
    @Option(help: "Training: vocabulary size, special tokens included.")
    var size: Int = 30522
    @Option(help: "Training: minimum pair count for a merge. Extending: minimum count of an added word.")
    var minFrequency: Int = 2
    @Option(help: "Training: keep at most this many distinct scalars in the alphabet.")
    var limitAlphabet: Int = 1000
    @Flag(help: "Keep case and accents (a cased vocabulary).")
    var cased = false
    @Option(help: "Output vocab.txt.")
    var out: String
    @Option(help: "Another vocab.txt: print how many of the trained tokens it contains.")
    var compare: String?
    @Option(help: "Extend this vocab.txt instead of training one: its tokens keep their ids, --add new ones follow.")
    var extend: String?
    @Option(help: "Extending: how many words to append.")
    var add: Int?
    @Option(help: "Extending: fraction of --corpus documents adapt holds out, skipped when counting (default: \(AdaptationSettings.defaults.validationSplit)).")
    var validationSplit: Double = AdaptationSettings.defaults.validationSplit

    func validate() throws {
        guard !corpus.isEmpty else { throw ValidationError("--corpus needs at least one file") }
        guard size > 5 else { throw ValidationError("--size must exceed the 5 special tokens") }
        guard limitAlphabet > 0, minFrequency >= 0 else {
            throw ValidationError("--limit-alphabet must be positive and --min-frequency not negative")
        }
        if (extend == nil) != (add == nil) { throw ValidationError("--extend BASE_VOCAB and --add N go together") }
        if let add, add < 1 { throw ValidationError("--add \(add) must be at least 1") }
        if extend != nil, compare != nil { throw ValidationError("--compare applies to training, not to --extend") }
        if !(validationSplit >= 0 && validationSplit < 1) {
            throw ValidationError("--validation-split \(validationSplit) must be in [0, 1)")
        }
    }

    func run() throws {
        if let extend, let add {
            try extendVocabulary(URL(fileURLWithPath: extend), adding: add)
        } else {
            try train()
        }
    }

    private func extendVocabulary(_ baseURL: URL, adding wanted: Int) throws {
        let base = try Vocabulary(contentsOf: baseURL)
        let limit = VocabularyExtension.maximumAddedTokens(base: base.count)
        guard wanted <= limit else {
            throw ValidationError("--add \(wanted): at most \(limit) tokens may be added to \(baseURL.path) (as many as it has)")
        }
        let tokenizer = WordPieceTokenizer(vocabulary: base, lowercase: !cased)
        var settings = AdaptationSettings(corpus: corpus)
        settings.validationSplit = validationSplit
        var counts = WordCounts(lowercase: !cased)
        var documents = 0
        try CorpusDocuments.forEach(settings.trainCorpusOptions()) { text in
            counts.feed(text[...])
            documents += 1
        }
        let candidates = VocabularyExtension.rank(counts.counts, base: tokenizer, minCount: minFrequency)
        let chosen = Array(candidates.prefix(wanted))
        if chosen.count < wanted {
            logLine("only \(chosen.count) words occur at least \(minFrequency) times in more than one piece; adding those")
        }
        let tokens = base.tokens + chosen.map(\.word)
        try VocabularyExtension.check(extended: tokens, base: base.tokens, lowercase: !cased, file: out, baseSource: baseURL.path)
        try write(tokens)
        let counted = counts.counts.reduce(0) { $0 + $1.value }
        let saved = chosen.reduce(0) { $0 + $1.saving }
        print("wrote \(out): \(base.count) tokens of \(baseURL.path) + \(chosen.count) added = \(tokens.count)")
        print("counted \(counted) words (\(counts.counts.count) distinct) in \(documents) training documents; "
            + "the added words save \(saved) pieces there by the count")
        print("top added: " + chosen.prefix(10).map { "\($0.word) (\($0.count)×, \($0.basePieces) pieces)" }.joined(separator: ", "))
        if validationSplit > 0 {
            let extended = WordPieceTokenizer(vocabulary: try Vocabulary(tokens: tokens, file: out), lowercase: !cased)
            var before = Fragmentation(), after = Fragmentation()
            var heldOut = 0
            try CorpusDocuments.forEach(settings.heldOutCorpusOptions()) { text in
                before.add(text[...], tokenizer: tokenizer)
                after.add(text[...], tokenizer: extended)
                heldOut += 1
            }
            print(String(format: "held out (%d documents, %d words; --validation-split %g): %.4f pieces per word before, %.4f after (%d → %d pieces, %+.2f%%)",
                         heldOut, before.words, validationSplit, before.piecesPerWord, after.piecesPerWord, before.pieces,
                         after.pieces, before.pieces == 0 ? 0 : 100 * (Double(after.pieces) / Double(before.pieces) - 1)))
        }
    }

    private func train() throws {
        var trainer = WordPieceTrainer(
            vocabularySize: size, minFrequency: minFrequency, limitAlphabet: limitAlphabet, lowercase: !cased)
        let start = Date()
        var bytes = 0
        for path in corpus {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CommandError("cannot read corpus file \(path)")
            }
            bytes += data.count
            trainer.feed(String(decoding: data, as: UTF8.self)[...])
        }
        let tokens = trainer.train()
        try write(tokens)
        print(String(format: "wrote %@: %d tokens from %d bytes in %.2f s", out, tokens.count, bytes,
                     Date().timeIntervalSince(start)))
        if let compare {
            guard let other = FileManager.default.contents(atPath: compare) else {
                throw CommandError("cannot read \(compare)")
            }
            let otherTokens = Set(String(decoding: other, as: UTF8.self).split(separator: "\n").map(String.init))
            let shared = tokens.filter(otherTokens.contains).count
            print(String(format: "%d of %d tokens (%.1f%%) are in %@", shared, tokens.count,
                         100 * Double(shared) / Double(tokens.count), compare))
        }
    }

    private func write(_ tokens: [String]) throws {
        do {
            try (tokens.joined(separator: "\n") + "\n").write(toFile: out, atomically: true, encoding: .utf8)
        } catch {
            throw CommandError("cannot write \(out): \(error.localizedDescription)")
        }
    }
}
