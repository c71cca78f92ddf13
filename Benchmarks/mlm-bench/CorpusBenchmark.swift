import ArgumentParser
import Corpus
import Foundation
import Tokenizer

/// Streams a corpus through reading, WordPiece, packing and the shuffle buffer, as training
/// would, and reports throughput and peak memory. With `--reference`, runs the HF `tokenizers`
/// equivalent (Benchmarks/reference/corpus_stream_reference.py) on the same files and prints the
/// ratios (reference time ÷ ours: above 1 means we are faster) and whether the tokens agree.
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

    @Option(help: "Python interpreter for the HF reference.")
    var python = "python3"

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
        var idsSum = 0
        while try streamer.nextBatch(into: &batch) {
            batches += 1
            for (id, special) in zip(batch.inputIds, batch.specialTokensMask) where special == 0 { idsSum += Int(id) }
        }
        let seconds = Date().timeIntervalSince(started)
        let stats = streamer.stats
        let megabytes = Double(stats.textBytes) / 1_000_000
        let diskBytes = streamer.files.reduce(0) {
            $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0)
        }
        print("corpus-stream: \(corpus.joined(separator: " ")) (\(streamer.files.count) files, mode \(mode), "
            + "seq \(maxSeqLength), shuffle buffer \(shuffleBufferSize), train split of \(1 - validationFraction))")
        print(String(format: "  %.1f MB of text (%.1f MB on disk) in %.2f s: %.1f MB/s of text",
                     megabytes, Double(diskBytes) / 1_000_000, seconds, megabytes / seconds))
        print(String(format: "  %d tokens (train split): %.2f M tokens/s", stats.tokens, Double(stats.tokens) / seconds / 1e6))
        print("  \(stats.documents) documents (\(stats.otherSplitDocuments) held out), \(stats.sequences) sequences, \(batches) batches")
        if stats.invalidUTF8Lines > 0 {
            print("  invalid UTF-8 in \(stats.invalidUTF8Lines) lines, first at \(stats.firstInvalidUTF8?.description ?? "?")")
        }
        let cpuSeconds = processorSeconds() - cpuAtStart
        print(String(format: "  CPU time %.2f s (user + system, all threads, vocabulary load excluded); peak RSS %.1f MB", cpuSeconds, peakResidentMegabytes()))
        if reference {
            if TokenizerBenchmark.pythonHasTokenizers(python) {
                try runReference(files: streamer.files, ourSeconds: seconds, ourCPUSeconds: cpuSeconds,
                                 ourTokens: stats.tokens, ourIdsSum: idsSum)
            } else {
                print("  Python tokenizers not importable with \(python): reference skipped")
            }
        }
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

    private func runReference(files: [String], ourSeconds: Double, ourCPUSeconds: Double, ourTokens: Int,
                              ourIdsSum: Int) throws {
        let result = try TokenizerBenchmark.runProcess(
            python, ["Benchmarks/reference/corpus_stream_reference.py", "--vocab", vocab,
                     "--max-seq-length", String(maxSeqLength), "--mode", mode] + files,
            environment: [:])
        guard result.status == 0,
              let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
              let referenceSeconds = json["seconds"] as? Double, let referenceCPU = json["cpu_seconds"] as? Double,
              let referenceTokens = json["tokens"] as? Int, let referenceIdsSum = json["ids_sum"] as? Int
        else {
            print("  reference: failed (exit \(result.status)): \(result.output)")
            return
        }
        print(String(format: "  reference HF tokenizers %@ (encode_batch on all cores, group_texts packing): %.2f s, CPU %.2f s, peak RSS %.1f MB",
                     "\(json["version"] ?? "?")", referenceSeconds, referenceCPU, (json["peak_rss_mb"] as? Double) ?? 0))
        print(String(format: "  speed ratio (reference ÷ ours, above 1 = we are faster): wall %.2f×, CPU time %.2f×",
                     referenceSeconds / ourSeconds, referenceCPU / ourCPUSeconds))
        if validationFraction == 0 {
            let same = referenceTokens == ourTokens && referenceIdsSum == ourIdsSum
            print("  same tokens as the reference (count and id sum): \(same ? "yes" : "NO (\(referenceTokens) tokens, id sum \(referenceIdsSum) vs \(ourTokens), \(ourIdsSum))")")
        } else {
            print("  (token agreement is checked with --validation-fraction 0: the reference keeps every document)")
        }
    }
}
