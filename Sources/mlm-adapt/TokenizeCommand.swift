import ArgumentParser
import Corpus
import Foundation
import Tokenizer

/// Prints, for each input line, a JSON object with tokens, ids, offsets (Unicode scalars) and word ids.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text lines with a WordPiece vocabulary and print JSON lines.",
        discussion: """
            Reads FILE (or standard input), splits it on newlines, decodes invalid UTF-8 as U+FFFD and prints one \
            JSON object per line: {"tokens", "ids", "offsets" ([start, end) in Unicode scalars), "word_ids" \
            (null for special tokens)}, as HF tokenizers' BertWordPieceTokenizer would.
            """)

    @Option(help: "vocab.txt of the model (one token per line).")
    var vocab: String
    @Flag(help: "Keep case and accents (for cased vocabularies).")
    var cased = false
    @Flag(help: "Do not add [CLS] and [SEP].")
    var noSpecialTokens = false
    @Argument(help: "Text file to tokenize (standard input when omitted or -).")
    var file: String?

    func run() throws {
        let vocabulary: Vocabulary
        do {
            vocabulary = try Vocabulary(contentsOf: URL(fileURLWithPath: vocab))
        } catch {
            throw CommandError("bad vocabulary: \(error)")
        }
        let tokenizer = WordPieceTokenizer(vocabulary: vocabulary, lowercase: !cased)
        let data: Data
        if let file, file != CorpusSources.standardInput {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw CommandError("cannot read \(file)")
            }
            data = contents
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var output: [UInt8] = []
        output.reserveCapacity(1 << 17)
        for line in lines {
            let encoding = tokenizer.encode(String(decoding: line, as: UTF8.self), addSpecialTokens: !noSpecialTokens)
            encoding.appendJSONLine(to: &output)
            if output.count > 1 << 16 {
                FileHandle.standardOutput.write(Data(output))
                output.removeAll(keepingCapacity: true)
            }
        }
        FileHandle.standardOutput.write(Data(output))
    }
}
