import ArgumentParser
import Dispatch
import Foundation
import Tokenizer

/// Tokenizer throughput beside HF `tokenizers` (Benchmarks/reference/tokenizer_reference.py) on one corpus.
struct TokenizerBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "WordPiece throughput (MB/s, tokens/s) at 1 and 2 threads, beside HF tokenizers.")

    @Option(help: "Corpus file (default Corpora/legal.txt, else Corpora/samples/legal.txt, else the tokenizer fixture).")
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
        let corpusPath = corpus
            ?? ["Corpora/legal.txt", "Corpora/samples/legal.txt"].first { FileManager.default.fileExists(atPath: $0) }
            ?? "Tests/Fixtures/tokenizer/legal_sample.txt"
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

        var rows: [Measurement] = []
        for threadCount in threadCounts {
            var best = Double.infinity
            var bestCPU = Double.infinity
            var result: [TokenizedChunk] = []
            for _ in 0..<max(1, repeats) {
                let start = DispatchTime.now().uptimeNanoseconds
                let startCPU = Self.processCPUSeconds()
                result = Self.tokenize(lines, with: tokenizer, threads: threadCount)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                bestCPU = min(bestCPU, Self.processCPUSeconds() - startCPU)
            }
            rows.append(Measurement(name: "mlm-adapt", threads: threadCount, seconds: best, cpuSeconds: bestCPU,
                                    tokens: result.reduce(0) { $0 + $1.ids.count }, hash: Self.idsHash(result)))
        }
        var reference: Measurement?
        if Self.pythonHasTokenizers(python) {
            reference = try runReference(corpusPath: corpusPath)
            if let reference { rows.append(reference) }
        } else {
            print("Python tokenizers not importable with \(python): reference skipped")
        }

        let megabytes = Double(data.count) / 1e6
        print("""

            Wall-clock MB/s and tokens/s are the best of \(max(1, repeats)) passes; CPU MB/s divides by the process CPU \
            time of that pass (all threads), which a busy machine disturbs less.

            | implementation | threads | MB/s | tokens/s | × HF (wall) | CPU MB/s | × HF (CPU) | ids identical to HF |
            | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |
            """)
        for row in rows {
            let ratio = reference.map { String(format: "%.1f×", $0.seconds / row.seconds) } ?? "n/a"
            let cpuRatio = reference.map { String(format: "%.1f×", $0.cpuSeconds / row.cpuSeconds) } ?? "n/a"
            let identical = reference.map { row.hash == $0.hash ? "yes" : "NO" } ?? "n/a"
            print(String(format: "| %@ | %d | %.2f | %.0f | %@ | %.2f | %@ | %@ |", row.name, row.threads,
                         megabytes / row.seconds, Double(row.tokens) / row.seconds, ratio,
                         megabytes / row.cpuSeconds, cpuRatio, identical))
        }
    }

    struct Measurement {
        let name: String
        let threads: Int
        let seconds: Double
        let cpuSeconds: Double
        let tokens: Int
        let hash: UInt64?
    }

    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
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

    /// Contiguous line chunks tokenized concurrently, as the corpus streamer would (one growing id buffer per
    /// chunk); the chunks come back in input order.
    static func tokenize(_ lines: [Substring], with tokenizer: WordPieceTokenizer, threads: Int) -> [TokenizedChunk] {
        let chunkCount = min(threads, max(lines.count, 1))
        let results = ChunkSlots(count: chunkCount)
        defer {
            results.slots.deinitialize()
            results.slots.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
            let range = (lines.count * chunk / chunkCount)..<(lines.count * (chunk + 1) / chunkCount)
            var tokenized = TokenizedChunk()
            tokenized.lineEnds.reserveCapacity(range.count)
            var wordIds: [Int32] = []
            var nextWord: Int32 = 0
            for line in lines[range] {
                nextWord = tokenizer.appendPieces(of: line, ids: &tokenized.ids, wordIds: &wordIds, firstWordId: nextWord)
                tokenized.lineEnds.append(tokenized.ids.count)
            }
            results.slots[chunk] = tokenized
        }
        return Array(results.slots)
    }

    /// FNV-1a 64 over each id as a 32-bit value, then 0xFFFFFFFF after each line (as the reference).
    static func idsHash(_ chunks: [TokenizedChunk]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for chunk in chunks {
            var start = 0
            for end in chunk.lineEnds {
                for id in chunk.ids[start..<end] { hash = (hash ^ UInt64(UInt32(bitPattern: id))) &* 0x100_0000_01B3 }
                hash = (hash ^ 0xFFFF_FFFF) &* 0x100_0000_01B3
                start = end
            }
        }
        return hash
    }

    static func pythonHasTokenizers(_ python: String) -> Bool {
        (try? Self.runProcess(python, ["-c", "import tokenizers"], environment: [:]))?.status == 0
    }

    func runReference(corpusPath: String) throws -> Measurement? {
        var arguments = ["Benchmarks/reference/tokenizer_reference.py", "--vocab", vocab, "--corpus", corpusPath,
                         "--repeat", String(max(1, repeats))]
        if cased { arguments.append("--cased") }
        let result = try Self.runProcess(
            python, arguments, environment: ["TOKENIZERS_PARALLELISM": "false", "RAYON_NUM_THREADS": "1"])
        guard result.status == 0,
              let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
              let seconds = json["seconds"] as? Double, let cpuSeconds = json["cpu_seconds"] as? Double,
              let tokens = json["tokens"] as? Int
        else {
            print("HF reference failed (exit \(result.status)): \(result.output)")
            return nil
        }
        return Measurement(name: "HF tokenizers", threads: 1, seconds: seconds, cpuSeconds: cpuSeconds, tokens: tokens,
                           hash: (json["ids_hash"] as? String).flatMap { UInt64($0, radix: 16) })
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

/// The ids of a run of lines, and where each line's ids end.
struct TokenizedChunk {
    var ids: [Int32] = []
    var lineEnds: [Int] = []
}

/// One result slot per chunk; each concurrent iteration writes only its own slot.
private struct ChunkSlots: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<TokenizedChunk>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: TokenizedChunk())
    }
}
