import ArgumentParser
import Foundation
import Tokenizer

/// Trains a WordPiece vocabulary like HF `BertWordPieceTokenizer.train` / `WordPieceTrainer`.
struct VocabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab",
        abstract: "Train a WordPiece vocabulary (like HF tokenizers' WordPieceTrainer) from text files.")

    @Option(parsing: .upToNextOption, help: "Text files to train on.")
    var corpus: [String]
    @Option(help: "Vocabulary size, special tokens included.")
    var size: Int = 30522
    @Option(help: "Minimum pair count for a merge.")
    var minFrequency: Int = 2
    @Option(help: "Keep at most this many distinct scalars in the alphabet.")
    var limitAlphabet: Int = 1000
    @Flag(help: "Keep case and accents.")
    var cased = false
    @Option(help: "Output vocab.txt.")
    var out: String
    @Option(help: "Another vocab.txt: print how many of the trained tokens it contains.")
    var compare: String?

    func validate() throws {
        guard !corpus.isEmpty else { throw ValidationError("--corpus needs at least one file") }
        guard size > 5 else { throw ValidationError("--size must exceed the 5 special tokens") }
        guard limitAlphabet > 0, minFrequency >= 0 else {
            throw ValidationError("--limit-alphabet must be positive and --min-frequency not negative")
        }
    }

    func run() throws {
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
        let text = tokens.joined(separator: "\n") + "\n"
        do {
            try text.write(toFile: out, atomically: true, encoding: .utf8)
        } catch {
            throw CommandError("cannot write \(out): \(error.localizedDescription)")
        }
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
}
