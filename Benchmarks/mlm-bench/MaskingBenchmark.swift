import ArgumentParser
import Corpus
import Foundation
import Masking

/// `mlm-bench masking`: sequences per CPU second of each masking strategy at 32 x 128 on one thread,
/// on the masking fixture's legal-text rows, beside HF's collator when `transformers` is installed.
struct MaskingBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "masking",
        abstract: "Masking throughput per strategy (32 x 128, one thread) beside HF DataCollatorForLanguageModeling.")

    @Option(help: "Folder with the masking fixture (input_ids.bin, word_ids.bin, fixture.json).")
    var fixture = "Tests/Fixtures/masking"

    @Option(help: "Seconds to time each strategy.")
    var seconds = 2.0

    @Option(help: "HF reference script; skipped when transformers is not importable.")
    var reference = "Benchmarks/reference/masking_reference.py"

    @Option(help: "Python interpreter for the reference.")
    var python = "python3"

    @Option(help: "Only the cases whose name contains this text (e.g. \"token\").")
    var only: String?

    @Option(help: "Seconds of one training step on 16 x 128, to put masking in proportion.")
    var trainingStepSeconds = 0.3

    func run() throws {
        let data = try BenchmarkFixture(directory: URL(fileURLWithPath: fixture))
        print("masking fixture: \(data.batches.count) batches of 32 x 128, \(data.eligibleTokens) eligible tokens")
        let cases: [(String, MaskingOptions, String?)] = [
            ("token (exact)", MaskingOptions(strategy: .token), "hf-token"),
            ("token (bernoulli)", MaskingOptions(strategy: .token, budget: .bernoulli), "hf-token"),
            ("whole word (exact)", MaskingOptions(strategy: .wholeWord), "hf-whole-word"),
            ("whole word (bernoulli)", MaskingOptions(strategy: .wholeWord, budget: .bernoulli), "hf-whole-word"),
            // HF has no span masking; its whole-word masking is the nearest reference.
            ("span (exact)", MaskingOptions(strategy: .span), "hf-whole-word"),
        ]
        var ours: [(name: String, seqPerSec: Double, usPerBatch: Double, stats: MaskingStats, hf: String?)] = []
        for (name, options, hf) in cases where only.map({ name.contains($0) }) ?? true {
            let strategy = try makeMaskingStrategy(options, vocabulary: data.vocabulary)
            let (rate, micros, stats) = measure(strategy, data: data)
            ours.append((name, rate, micros, stats, hf))
        }

        let hf = runReference()
        print("")
        print("| strategy | ours seq/s | ours µs/batch | HF mask seq/s | × HF mask | HF collator seq/s | × HF collator |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in ours {
            var hfColumns = "| — | — | — | — |"
            if let key = row.hf, let reference = hf[key] {
                hfColumns = "| \(format(reference.seqPerSec)) | \(ratio(row.seqPerSec, reference.seqPerSec)) "
                    + "| \(format(reference.collateSeqPerSec)) | \(ratio(row.seqPerSec, reference.collateSeqPerSec)) |"
            }
            print("| \(row.name) | \(format(row.seqPerSec)) | \(String(format: "%.1f", row.usPerBatch)) \(hfColumns)")
        }
        print("")
        print("CPU time, one thread each. HF mask: DataCollatorForLanguageModeling.torch_mask_tokens on ready "
            + "tensors (mlm_probability 0.15; whole word: whole_word_mask=True). HF collator: the collator called "
            + "on 32 dict examples (padding, tensors, masking). HF has no span masking: span is set beside HF "
            + "whole-word masking.")
        print("")
        let words = ours.map(\.stats.eligibleWords).max() ?? 0
        print("Realised rates (ours: all \(data.batches.count) batches, \(words) words; HF: one pass):")
        print("| strategy | selected | [MASK] | random | kept | partly selected words | mean span words |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in ours {
            let s = row.stats
            print("| \(row.name) | \(percent(s.selectionRate)) | \(percent(s.maskFraction)) | \(percent(s.randomFraction)) "
                + "| \(percent(s.keepFraction)) | \(s.eligibleWords > 0 ? "\(s.partlySelectedWords)" : "not counted") "
                + "| \(s.spans > 0 ? String(format: "%.2f", s.meanSpanWords) : "—") |")
        }
        for key in hf.keys.sorted() {
            guard let r = hf[key] else { continue }
            print("| \(key) | \(percent(r.selectionRate)) | \(percent(r.maskFraction)) | \(percent(r.randomFraction)) "
                + "| \(percent(r.keepFraction)) | \(r.partlySelectedWords) | — |")
        }
        if let slowest = ours.map(\.usPerBatch).max() {
            // A 16 x 128 training batch is half a 32 x 128 batch.
            let share = slowest / 2 / (trainingStepSeconds * 1e6)
            print("")
            print(String(format: "Slowest strategy: %.1f µs per 16 x 128 batch = %.4f%% of a %.2f s training step.",
                slowest / 2, share * 100, trainingStepSeconds))
        }
    }

    private func measure(
        _ strategy: any MaskingStrategy, data: BenchmarkFixture
    ) -> (seqPerSec: Double, usPerBatch: Double, stats: MaskingStats) {
        var out = MaskedBatch(batchSize: 32, seqLength: 128)
        var stats = MaskingStats()
        for (index, batch) in data.batches.enumerated() {
            strategy.mask(batch, seed: 1, epoch: 0, batchIndex: index, into: &out)
            stats += out.stats
        }
        var batchesDone = 0
        var epoch = 1
        let start = processCPUSeconds()
        var elapsed = 0.0
        repeat {
            for (index, batch) in data.batches.enumerated() {
                strategy.mask(batch, seed: 1, epoch: epoch, batchIndex: index, into: &out)
            }
            batchesDone += data.batches.count
            epoch += 1
            elapsed = processCPUSeconds() - start
        } while elapsed < seconds
        return (Double(batchesDone * 32) / elapsed, elapsed / Double(batchesDone) * 1e6, stats)
    }

    struct ReferenceResult: Decodable {
        let name: String
        let seqPerSec: Double
        let collateSeqPerSec: Double
        let selectionRate: Double
        let maskFraction: Double
        let randomFraction: Double
        let keepFraction: Double
        let partlySelectedWords: Int
    }

    private func runReference() -> [String: ReferenceResult] {
        guard FileManager.default.fileExists(atPath: reference) else {
            print("HF reference: \(reference) not found, skipped")
            return [:]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import transformers, torch"]
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            print("HF reference: cannot start \(python) (\(error)), skipped")
            return [:]
        }
        guard process.terminationStatus == 0 else {
            print("HF reference: transformers/torch not importable, skipped")
            return [:]
        }
        let reference = Process()
        reference.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        reference.arguments = [python, self.reference, "--fixture", fixture, "--seconds", "\(seconds)"]
        let pipe = Pipe()
        reference.standardOutput = pipe
        do {
            try reference.run()
        } catch {
            print("HF reference: \(error), skipped")
            return [:]
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        reference.waitUntilExit()
        guard reference.terminationStatus == 0 else {
            print("HF reference exited with status \(reference.terminationStatus), skipped")
            return [:]
        }
        var results: [String: ReferenceResult] = [:]
        for line in output.split(separator: UInt8(ascii: "\n")) {
            if let result = try? JSONDecoder().decode(ReferenceResult.self, from: Data(line)) {
                results[result.name] = result
            }
        }
        return results
    }

    /// CPU time of this process: on a shared machine, wall time would mostly measure the neighbours.
    /// The reference uses Python's `time.process_time()`, the same clock.
    private func processCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    private func format(_ value: Double) -> String { String(format: "%.0f", value) }
    private func ratio(_ ours: Double, _ theirs: Double) -> String { String(format: "%.1f×", ours / theirs) }
    private func percent(_ value: Double) -> String { String(format: "%.2f%%", value * 100) }
}

/// The masking test fixture as full 32-row batches (the short tail batch is left out).
struct BenchmarkFixture {
    struct Metadata: Decodable {
        let rows: Int
        let seqLength: Int
        let vocabSize: Int
        let padId: Int32
        let clsId: Int32
        let sepId: Int32
        let maskId: Int32
        let specialIds: [Int32]
    }

    let batches: [TokenBatch]
    let vocabulary: MaskingVocabulary
    let eligibleTokens: Int

    init(directory: URL) throws {
        let metadataURL = directory.appendingPathComponent("fixture.json")
        let metadata = try JSONDecoder().decode(Metadata.self, from: Data(contentsOf: metadataURL))
        let count = metadata.rows * metadata.seqLength
        let ids = try Data(contentsOf: directory.appendingPathComponent("input_ids.bin"))
        let words = try Data(contentsOf: directory.appendingPathComponent("word_ids.bin"))
        guard ids.count == count * 4, words.count == count, metadata.seqLength == 128 else {
            throw ValidationError("\(directory.path): input_ids.bin/word_ids.bin do not match fixture.json")
        }
        vocabulary = try MaskingVocabulary(
            size: metadata.vocabSize, maskId: metadata.maskId, specialIds: Set(metadata.specialIds))
        var batches: [TokenBatch] = []
        var eligible = 0
        for first in stride(from: 0, to: metadata.rows - 31, by: 32) {
            var batch = TokenBatch(batchSize: 32, seqLength: 128, padId: metadata.padId)
            batch.rowCount = 32
            for index in 0..<(32 * 128) {
                let source = first * 128 + index
                let id = ids.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: source * 4, as: Int32.self)) }
                batch.inputIds[index] = id
                batch.wordIds[index] = Int32(Int8(bitPattern: words[words.startIndex + source]))
                batch.attentionMask[index] = id == metadata.padId ? 0 : 1
                let special = id == metadata.padId || id == metadata.clsId || id == metadata.sepId
                batch.specialTokensMask[index] = special ? 1 : 0
                if !special { eligible += 1 }
            }
            batches.append(batch)
        }
        self.batches = batches
        eligibleTokens = eligible
    }
}
