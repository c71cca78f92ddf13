import ArgumentParser
import Corpus
import Foundation
import Tokenizer

/// Streams a corpus through reading, WordPiece, packing and the shuffle buffer, as training
/// would, and reports throughput and peak memory. With `--reference`, runs the HF `tokenizers`
/// equivalent (scripts/corpus_stream_reference.py) on the same files and prints the ratio.
struct CorpusStreamBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus-stream",
        abstract: "Corpus streaming throughput (MB/s, tokens/s, sequences) and peak RSS.")

    @Option(help: "Corpus file, folder or glob (repeatable).")
    var corpus: [String]

    @Option(help: "WordPiece vocabulary.")
    var vocab = "Vocab/bert-base-uncased.txt"

    @Option(help: "lines or documents.")
    var mode = "lines"

    @Option var maxSeqLength = 128
    @Option var batchSize = 32
    @Option var shuffleBufferSize = 10_000
    @Option var validationFraction = 0.05

    @Flag(help: "Also run the HF tokenizers reference script and print the speed ratio.")
    var reference = false

    @Option(help: "Reference script.")
    var referenceScript = "scripts/corpus_stream_reference.py"

    func run() throws {
        guard let corpusMode = CorpusMode(rawValue: mode) else {
            throw ValidationError("--mode must be lines or documents")
        }
        let tokenizer = WordPieceTokenizer(vocabulary: try Vocabulary(contentsOf: URL(fileURLWithPath: vocab)))
        let options = CorpusOptions(sources: corpus, mode: corpusMode, maxSeqLength: maxSeqLength,
                                    shuffleBufferSize: shuffleBufferSize, validationFraction: validationFraction)
        let started = Date()
        let cpuAtStart = processorSeconds()
        let streamer = try CorpusStreamer(options: options, tokenizer: tokenizer)
        var batch = TokenBatch(batchSize: batchSize, seqLength: maxSeqLength, padId: tokenizer.padId)
        var batches = 0
        while try streamer.nextBatch(into: &batch) { batches += 1 }
        let seconds = Date().timeIntervalSince(started)
        let stats = streamer.stats
        let megabytes = Double(stats.textBytes) / 1_000_000
        print("corpus-stream: \(corpus.joined(separator: " ")) (\(streamer.files.count) files, mode \(mode), "
            + "seq \(maxSeqLength), shuffle buffer \(shuffleBufferSize), train split of \(1 - validationFraction))")
        print(String(format: "  %.1f MB of text in %.2f s: %.1f MB/s", megabytes, seconds, megabytes / seconds))
        print(String(format: "  %d tokens (train split): %.2f M tokens/s", stats.tokens, Double(stats.tokens) / seconds / 1e6))
        print("  \(stats.documents) documents (\(stats.otherSplitDocuments) held out), \(stats.sequences) sequences, \(batches) batches")
        if stats.invalidUTF8Lines > 0 {
            print("  invalid UTF-8 in \(stats.invalidUTF8Lines) lines, first at \(stats.firstInvalidUTF8?.description ?? "?")")
        }
        let cpuSeconds = processorSeconds() - cpuAtStart
        print(String(format: "  CPU time %.2f s (user + system, all threads, vocabulary load excluded); peak RSS %.1f MB", cpuSeconds, peakResidentMegabytes()))
        if reference { try runReference(files: streamer.files, ourSeconds: seconds, ourCPUSeconds: cpuSeconds) }
    }

    private func processorSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private func peakResidentMegabytes() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576  // bytes on macOS
        #endif
    }

    private func runReference(files: [String], ourSeconds: Double, ourCPUSeconds: Double) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", referenceScript, "--vocab", vocab, "--max-seq-length", String(maxSeqLength),
                             "--mode", mode] + files
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let referenceSeconds = json["seconds"] as? Double
        else {
            print("  reference: failed (exit \(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))")
            return
        }
        print(String(format: "  reference (HF tokenizers %@, all documents: compare with --validation-fraction 0): %.2f s, %@ tokens, peak RSS %.1f MB",
                     "\(json["version"] ?? "?")", referenceSeconds, "\(json["tokens"] ?? "?")",
                     (json["peak_rss_mb"] as? Double) ?? 0))
        let referenceCPU = (json["cpu_seconds"] as? Double) ?? .nan
        print(String(format: "  speed ratio (reference / ours): wall %.2fx, CPU time %.2fx (reference CPU %.2f s)",
                     referenceSeconds / ourSeconds, referenceCPU / ourCPUSeconds, referenceCPU))
    }
}
