import ArgumentParser
import Dispatch
import Foundation
import Tokenizer

/// Tokenizer throughput beside HF `tokenizers` (Benchmarks/reference/tokenizer_reference.py) on one corpus.
struct TokenizerBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "WordPiece throughput (MB/s, tokens/s) at 1 and 2 threads, beside HF tokenizers.")

    @Option(help: "Corpus file (default Corpora/legal.txt, else the committed legal sample).")
    var corpus: String?
    @Option(help: "Comma-separated thread counts.")
    var threads: String = "1,2"
    @Option(help: "Vocabulary file.")
    var vocab: String = "Vocab/bert-base-uncased.txt"
    @Flag(help: "Keep case and accents (cased vocab).")
    var cased = false
    @Option(help: "Timed passes per measurement; the best is reported.")
    var repeats: Int = 3
    @Option(help: "Python interpreter for the HF reference.")
    var python: String = "python3"

    func run() throws {
        let corpusPath = corpus ?? (FileManager.default.fileExists(atPath: "Corpora/legal.txt")
            ? "Corpora/legal.txt" : "Tests/Fixtures/tokenizer/legal_sample.txt")
        let threadCounts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !threadCounts.isEmpty, threadCounts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads needs positive integers, e.g. 1,2")
        }
        guard let data = FileManager.default.contents(atPath: corpusPath) else {
            throw ValidationError("cannot read corpus \(corpusPath)")
        }
        let vocabulary: Vocabulary
        do {
            vocabulary = try Vocabulary(contentsOf: URL(fileURLWithPath: vocab))
        } catch {
            throw ValidationError("\(error)")
        }
        let tokenizer = WordPieceTokenizer(vocabulary: vocabulary, lowercase: !cased)
        let text = String(decoding: data, as: UTF8.self)
        let lines = Self.lines(of: text)
        print("corpus \(corpusPath): \(data.count) bytes, \(lines.count) lines; vocab \(vocab) (\(cased ? "cased" : "uncased"))")

        var rows: [(name: String, threads: Int, seconds: Double, tokens: Int, hash: UInt64?)] = []
        for threadCount in threadCounts {
            var best = Double.infinity
            var result: [[Int32]] = []
            for _ in 0..<max(1, repeats) {
                let start = DispatchTime.now().uptimeNanoseconds
                result = Self.tokenize(lines, with: tokenizer, threads: threadCount)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            rows.append(("mlm-adapt", threadCount, best, result.reduce(0) { $0 + $1.count }, Self.idsHash(result)))
        }
        var reference: (seconds: Double, tokens: Int, hash: UInt64?)?
        if Self.pythonHasTokenizers(python) {
            reference = try runReference(corpusPath: corpusPath)
            if let reference {
                rows.append(("HF tokenizers", 1, reference.seconds, reference.tokens, reference.hash))
            }
        } else {
            print("Python tokenizers not importable with \(python): reference skipped")
        }

        let megabytes = Double(data.count) / 1e6
        print("\n| implementation | threads | MB/s | tokens/s | × HF (1 thread) | ids identical to HF |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for row in rows {
            let ratio = reference.map { String(format: "%.1f×", $0.seconds / row.seconds) } ?? "n/a"
            let identical = reference.map { row.hash == $0.hash ? "yes" : "NO" } ?? "n/a"
            print(String(format: "| %@ | %d | %.2f | %.0f | %@ | %@ |", row.name, row.threads, megabytes / row.seconds,
                         Double(row.tokens) / row.seconds, ratio, identical))
        }
    }

    /// Lines split on "\n", as the reference splits them.
    static func lines(of text: String) -> [Substring] {
        var lines: [Substring] = []
        var start = text.utf8.startIndex
        var index = start
        while index < text.utf8.endIndex {
            if text.utf8[index] == UInt8(ascii: "\n") {
                lines.append(text[start..<index])
                start = text.utf8.index(after: index)
            }
            index = text.utf8.index(after: index)
        }
        if start < text.utf8.endIndex { lines.append(text[start...]) }
        return lines
    }

    /// Contiguous line chunks tokenized concurrently; the ids of each line are returned in input order.
    static func tokenize(_ lines: [Substring], with tokenizer: WordPieceTokenizer, threads: Int) -> [[Int32]] {
        let chunkCount = min(threads, max(lines.count, 1))
        let results = ChunkSlots(count: chunkCount)
        defer {
            results.slots.deinitialize()
            results.slots.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            let range = (lines.count * chunk / chunkCount)..<(lines.count * (chunk + 1) / chunkCount)
            var chunkIds: [[Int32]] = []
            chunkIds.reserveCapacity(range.count)
            var wordIds: [Int32] = []
            for line in lines[range] {
                var ids: [Int32] = []
                wordIds.removeAll(keepingCapacity: true)
                tokenizer.appendPieces(of: line, ids: &ids, wordIds: &wordIds, firstWordId: 0)
                chunkIds.append(ids)
            }
            results.slots[chunk] = chunkIds
        }
        return results.slots.flatMap { $0 }
    }

    /// FNV-1a 64 over each id as a 32-bit value, then 0xFFFFFFFF after each line (as the reference).
    static func idsHash(_ lines: [[Int32]]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for ids in lines {
            for id in ids { hash = (hash ^ UInt64(UInt32(bitPattern: id))) &* 0x100_0000_01B3 }
            hash = (hash ^ 0xFFFF_FFFF) &* 0x100_0000_01B3
        }
        return hash
    }

    static func pythonHasTokenizers(_ python: String) -> Bool {
        (try? Self.runProcess(python, ["-c", "import tokenizers"], environment: [:]))?.status == 0
    }

    func runReference(corpusPath: String) throws -> (seconds: Double, tokens: Int, hash: UInt64?)? {
        var arguments = ["Benchmarks/reference/tokenizer_reference.py", "--vocab", vocab, "--corpus", corpusPath,
                         "--repeat", String(max(1, repeats))]
        if cased { arguments.append("--cased") }
        let result = try Self.runProcess(
            python, arguments, environment: ["TOKENIZERS_PARALLELISM": "false", "RAYON_NUM_THREADS": "1"])
        guard result.status == 0,
              let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
              let seconds = json["seconds"] as? Double, let tokens = json["tokens"] as? Int
        else {
            print("HF reference failed (exit \(result.status)): \(result.output)")
            return nil
        }
        return (seconds, tokens, (json["ids_hash"] as? String).flatMap { UInt64($0, radix: 16) })
    }

    static func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]) throws
        -> (status: Int32, output: String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// One result slot per chunk; each concurrent iteration writes only its own slot.
private struct ChunkSlots: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<[[Int32]]>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [])
    }
}
