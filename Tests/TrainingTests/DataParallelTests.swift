import Foundation
import Testing
@testable import Checkpoint
@testable import Corpus
@testable import DataParallel
@testable import Masking
@testable import Model
@testable import Optimization
@testable import TensorKernels
@testable import Training

/// Data-parallel adaptation: the pieces that need no MPI (launch detection, row shares, dropout offsets,
/// the error without Open MPI), and, where `mpirun` and `libmpi.so.40` exist (CI installs them), the same
/// run on one process and on two ranks.
@Suite(.serialized) struct DataParallelTests {
    static let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let mpiLibraryLoads: Bool = {
        guard let handle = dlopen(ProcessGroup.defaultLibrary, RTLD_LAZY | RTLD_LOCAL) else { return false }
        dlclose(handle)
        return true
    }()
    static let mpiAvailable = mpirun != nil && mpiLibraryLoads
    static let skipReason: Comment = "needs Open MPI: mpirun and libmpi.so.40 (Debian's openmpi-bin, libopenmpi-dev; make deps)"

    @Test(arguments: [
        ([:], Launch.single),
        (["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"], Launch.mpirun(variable: "OMPI_COMM_WORLD_SIZE", localRanks: 2)),
        (["PMIX_RANK": "0"], Launch.mpirun(variable: "PMIX_RANK", localRanks: 1)),
        (["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_SIZE": "0"], Launch.mpirun(variable: "OMPI_COMM_WORLD_SIZE", localRanks: 1)),
        (["PMI_RANK": "1", "PMI_SIZE": "2"], Launch.otherLauncher(variable: "PMI_RANK")),
    ])
    func launchIsToldByTheEnvironment(environment: [String: String], expected: Launch) throws {
        #expect(Launch.detect(environment) == expected)
    }

    @Test func withoutMpirunTheGroupIsOneProcess() throws {
        let group = try ProcessGroup.start(environment: ["PATH": "/usr/bin"])
        #expect(group.rank == 0 && group.size == 1 && group.isLeader && !group.isDistributed)
        #expect(group.defaultThreads(cores: RuntimeDefaults.threads) == RuntimeDefaults.threads)
        // Collectives of one process are identities.
        var values: [Double] = [1, 2, 3]
        try values.withUnsafeMutableBufferPointer { try group.allreduceSum($0) }
        #expect(values == [1, 2, 3])
        #expect(try group.largest(7) == 7)
        #expect(try group.ranksDiffering(from: 42, "test").isEmpty)
    }

    @Test func anotherMPIsLauncherIsRefusedByName() {
        let error = #expect(throws: DataParallelError.self) { try ProcessGroup.start(environment: ["PMI_SIZE": "2"]) }
        #expect(error?.description.contains("other than Open MPI's mpirun (PMI_SIZE is set") == true, "\(String(describing: error))")
    }

    @Test(arguments: [(8, 2, [0..<4, 4..<8]), (8, 4, [0..<2, 2..<4, 4..<6, 6..<8]), (6, 1, [0..<6])])
    func eachRankTakesAContiguousEqualShare(batchSize: Int, ranks: Int, expected: [Range<Int>]) {
        #expect((0..<ranks).map { AdaptationData.shareRows(batchSize: batchSize, rank: $0, size: ranks) } == expected)
    }

    /// A rank's rows, copied out of the whole masked batch, hold the same ids, labels and masked positions
    /// (counted from the share's first row).
    @Test func aShareHoldsItsRowsOfTheWholeMaskedBatch() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let prepared = try ModelLoading.prepare(tiny.source, lowercase: nil, seed: 1)
        let settings = tiny.settings(steps: 1)
        let stream = try CorpusStreamer(options: settings.trainCorpusOptions(), tokenizer: prepared.tokenizer)
        var tokens = TokenBatch(batchSize: 8, seqLength: settings.maxSeqLength, padId: prepared.vocabulary.padId)
        #expect(try stream.nextBatch(into: &tokens))
        let masking = try makeMaskingStrategy(settings.maskingOptions, vocabulary: MaskingVocabulary(prepared.vocabulary))
        var whole = MicroBatch(tokens: tokens, masked: MaskedBatch(batchSize: 8, seqLength: settings.maxSeqLength))
        masking.mask(whole.tokens, seed: 3, epoch: 0, batchIndex: 0, into: &whole.masked)
        let s = settings.maxSeqLength
        var share = MicroBatch(
            tokens: TokenBatch(batchSize: 4, seqLength: s, padId: prepared.vocabulary.padId),
            masked: MaskedBatch(batchSize: 4, seqLength: s))
        var positions: [Int32] = []
        for rows in [0..<4, 4..<8, 6..<8] {
            share.copyRows(rows, of: whole)
            let span = rows.lowerBound * s..<rows.upperBound * s
            #expect(share.tokens.rowCount == rows.count && share.masked.rowCount == rows.count)
            #expect(Array(share.tokens.inputIds[0..<rows.count * s]) == Array(whole.tokens.inputIds[span]))
            #expect(Array(share.tokens.attentionMask[0..<rows.count * s]) == Array(whole.tokens.attentionMask[span]))
            #expect(Array(share.masked.inputIds[0..<rows.count * s]) == Array(whole.masked.inputIds[span]))
            #expect(Array(share.masked.labels[0..<rows.count * s]) == Array(whole.masked.labels[span]))
            let expected = whole.masked.maskedPositions.filter { span.contains(Int($0)) }
            #expect(share.masked.maskedPositions == expected.map { $0 - Int32(span.lowerBound) })
            #expect(share.masked.maskedLabels == expected.map { whole.masked.labels[Int($0)] })
            if rows != 6..<8 { positions += share.masked.maskedPositions.map { $0 + Int32(span.lowerBound) } }
        }
        #expect(!whole.masked.maskedPositions.isEmpty)
        #expect(positions == whole.masked.maskedPositions, "the two halves' positions make up the whole batch's")
        share.copyRows(8..<8, of: whole)
        #expect(share.tokens.rowCount == 0 && share.masked.maskedPositions.isEmpty)
    }

    /// A mask's element i is the whole batch's element firstIndex + i, in every kernel that applies one.
    @Test(arguments: [0, 1, 3, 4, 96, 1001])
    func dropoutFromAFirstIndexContinuesTheWholeMask(firstIndex: Int) {
        let whole = DropoutMask(probability: 0.3, seed: 9, stream: 2)
        let part = DropoutMask(probability: 0.3, seed: 9, stream: 2, firstIndex: firstIndex)
        let n = 257
        let ones = [Float](repeating: 1, count: firstIndex + n)
        var wholeOut = [Float](repeating: 0, count: firstIndex + n), partOut = [Float](repeating: 0, count: n)
        whole.applySerial(ones, into: &wholeOut, count: firstIndex + n, first: 0)
        part.applySerial(ones, into: &partOut, count: n, first: 0)
        #expect(Array(wholeOut[firstIndex...]) == partOut)
        #expect((0..<n).allSatisfy { part.factor($0) == whole.factor(firstIndex + $0) })
    }

    /// The LayerNorm kernel with dropout, on rows from a whole row's offset on.
    @Test func layerNormDropoutOfAShareMatchesTheWholeBatchRows() {
        let rows = 6, columns = 16, firstRow = 2
        let input = (0..<rows * columns).map { Float(($0 * 37) % 11) / 5 - 1 }
        let residual = (0..<rows * columns).map { Float(($0 * 13) % 7) / 3 }
        let gamma = [Float](repeating: 1.5, count: columns), beta = [Float](repeating: 0.25, count: columns)
        func run(_ from: Int, _ mask: DropoutMask) -> [Float] {
            let count = rows - from
            var sum = [Float](repeating: 0, count: count * columns), output = sum
            var mean = [Float](repeating: 0, count: count), rstd = mean
            LayerNorm.forward(
                input: Array(input[(from * columns)...]), residual: Array(residual[(from * columns)...]), dropout: mask,
                sum: &sum, gamma: gamma, beta: beta, output: &output, mean: &mean, rstd: &rstd, rows: count,
                columns: columns, eps: 1e-12)
            return output
        }
        let whole = run(0, DropoutMask(probability: 0.4, seed: 5, stream: 1))
        let share = run(firstRow, DropoutMask(probability: 0.4, seed: 5, stream: 1, firstIndex: firstRow * columns))
        #expect(Array(whole[(firstRow * columns)...]) == share)
    }

    @Test func mpirunWithoutOpenMPIIsAClearError() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        let child = try Child(
            SignalTests.longRunArguments(tiny, output: output, maxSteps: 2),
            environment: ["OMPI_COMM_WORLD_SIZE": "2", ProcessGroup.libraryVariable: "/nonexistent/libmpi.so.40"])
        #expect(child.finish(timeout: 120) != 0)
        #expect(child.text.contains("started by mpirun (OMPI_COMM_WORLD_SIZE is set), but Open MPI's /nonexistent/libmpi.so.40 cannot be loaded"),
                "\(child.text)")
        #expect(!FileManager.default.fileExists(atPath: output.path), "nothing was written")
    }

    /// Fine-tuning under mpirun would train the whole task on every rank and race for the run folder.
    @Test(arguments: [
        ["classify", "--init", "/nonexistent", "--train", "/nonexistent.tsv", "--validation", "/nonexistent.tsv"],
        ["ner", "--init", "/nonexistent", "--train", "/nonexistent.conll", "--validation", "/nonexistent.conll"],
        ["setfit", "--init", "/nonexistent", "--train", "/nonexistent.tsv", "--samples-per-class", "2",
         "--validation", "/nonexistent.tsv"],
    ])
    func fineTuningRefusesToRunUnderMpirun(arguments: [String]) throws {
        let child = try Child(arguments, environment: ["OMPI_COMM_WORLD_SIZE": "2"])
        #expect(child.finish(timeout: 60) != 0)
        #expect(child.text.contains("\(arguments[0]) runs in one process; data-parallel training under mpirun"), "\(child.text)")
    }

    // MARK: - Under mpirun

    /// `mlm-adapt` under `mpirun -np ranks` (as root where CI runs so, more ranks than cores allowed).
    static func mpirunChild(_ ranks: Int, _ arguments: [String]) throws -> Child {
        let executable = try #require(SignalTests.executable, "build the mlm-adapt executable first (swift build)")
        return try Child(
            ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", executable.path] + arguments,
            environment: containerSafe, executable: URL(fileURLWithPath: try #require(mpirun)))
    }

    /// Open MPI's single-copy shared memory needs ptrace rights that containers often withhold (CI).
    static let containerSafe = ["OMPI_MCA_btl_vader_single_copy_mechanism": "none"]

    /// The pid of the child of `mpirun` whose environment says it is `rank`, once it runs.
    static func waitForRank(_ rank: Int, of job: Child) -> Int32? {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let pid = Self.rank(rank, of: job.process.processIdentifier) { return pid }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    static func runArguments(_ tiny: TinySetup, output: URL) -> [String] {
        ["--vocab", tiny.vocabularyURL.path, "--config", tiny.configURL.path, "--corpus", tiny.corpusURL.path,
         "--validation-split", "0.1", "--max-seq-length", "32", "--batch-size", "8", "--max-steps", "12",
         "--eval-every", "5", "--eval-batches", "2", "--save-every", "6", "--lr", "5e-3", "--seed", "7", "--head-warmup-steps", "3",
         "--grad-accum", "2",
         "--threads", "1", "--precision", "fp32", "--output-dir", output.path]
    }

    static func parameters(_ checkpoint: URL) throws -> [Float] {
        let prepared = try ModelLoading.prepare(CheckpointReference.resolve(checkpoint.path), heads: .exactly(.maskedLM))
        return Array(prepared.model.parameters)
    }

    /// Train and eval lines agree: the same keys, counts and steps, every figure within `tolerance`
    /// (relative), timings aside.
    static func expectSameMetrics(_ one: URL, _ other: URL, tolerance: Double = 1e-5) throws {
        let timing: Set<String> = ["elapsed", "tokens_per_s", "seconds", "allreduce_s"]
        let a = try MetricsLog.read(one.appendingPathComponent("metrics.jsonl"))
        let b = try MetricsLog.read(other.appendingPathComponent("metrics.jsonl"))
        #expect(a.count == b.count && !a.isEmpty)
        for (x, y) in zip(a, b) {
            #expect(Set(x.keys).subtracting(timing) == Set(y.keys).subtracting(timing), "\(x) vs \(y)")
            for (key, value) in x where !timing.contains(key) {
                if let u = value as? Double, let v = y[key] as? Double, u != u.rounded() || v != v.rounded() {
                    #expect(abs(u - v) <= tolerance * max(1, abs(u)), "\(x["type"] ?? "") step \(x["step"] ?? ""): \(key) \(u) vs \(v)")
                } else {
                    #expect("\(value)" == "\(y[key] ?? "missing")", "\(x["type"] ?? "") step \(x["step"] ?? ""): \(key)")
                }
            }
        }
    }

    static func expectSameWeights(_ one: URL, _ other: URL) throws {
        let a = try parameters(one), b = try parameters(other)
        #expect(a.count == b.count)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "largest weight difference \(worst)")
    }

    /// The ranks' optimizer blocks tile the trainable part of the arena in order, each rank's chunks
    /// contiguous, and the moment blocks tile the compact state the same way.
    @Test(arguments: [1, 2, 3, 8, 40])
    func optimizerShardsTileTheTrainableArena(ranks: Int) throws {
        let layout = ParameterLayout(config: Self.shardedConfig(vocabSize: 300), heads: .maskedLM)
        let spans = TrainableSpans(tensors: layout.tensors, chunkSize: 1000)
        let arena = layout.tensors[0].offset..<(layout.tensors.map { $0.offset + $0.count }.max() ?? 0)
        let shards = (0..<ranks).map { OptimizerShards(spans: spans, arena: arena, rank: $0, ranks: ranks) }
        #expect(shards.map(\.chunks.lowerBound) + [spans.chunkCount] == [0] + shards.map(\.chunks.upperBound))
        #expect(shards.map(\.ownBlock.lowerBound) + [arena.upperBound] == [arena.lowerBound] + shards.map(\.ownBlock.upperBound))
        #expect(shards.allSatisfy { $0.coveredArena == arena && $0.stateCounts.reduce(0, +) == Int32(spans.elementCount) })
        // Each chunk's pieces lie inside its owner's block.
        for shard in shards {
            for chunk in shard.chunks {
                for piece in spans.piecesByChunk[chunk] {
                    #expect(shard.ownBlock.contains(piece.arenaStart) && piece.arenaStart + piece.count <= shard.ownBlock.upperBound)
                    let stateStart = Int(shard.stateOffsets[shard.rank])
                    #expect((stateStart..<stateStart + Int(shard.stateCounts[shard.rank])).contains(piece.stateStart))
                }
            }
        }
    }

    /// Large enough that the optimizer's chunks (32,768 trainable values each) split among two ranks.
    static func shardedConfig(vocabSize: Int) -> BertConfig {
        BertConfig(
            vocabSize: vocabSize, hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 256,
            maxPositionEmbeddings: 64, hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1)
    }

    /// The CI equality check: a tiny model with dropout, global batch 8, on one process and on two ranks
    /// (3 steps of head warm-up, then the full phase, each with its own optimizer shards; 2 micro-batches a
    /// step, so epochs end inside steps): the same metrics
    /// lines and final weights within 1e-5; then a resume of the one-process run's step-6 checkpoint on two
    /// ranks ends where the one-process run did.
    @Test(.enabled(if: mpiAvailable, skipReason), .timeLimit(.minutes(5)))
    func twoRanksTrainAsOneProcess() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        try Self.shardedConfig(vocabSize: tiny.config.vocabSize).jsonData().write(to: tiny.configURL)
        let spans = TrainableSpans(
            layout: ParameterLayout(config: Self.shardedConfig(vocabSize: tiny.config.vocabSize), heads: .maskedLM)) { _ in true }
        #expect(spans.chunks(ofRank: 1, among: 2).count >= 2, "each rank updates several chunks")
        let one = tiny.directory.appendingPathComponent("one"), two = tiny.directory.appendingPathComponent("two")
        let single = try Child(Self.runArguments(tiny, output: one))
        #expect(single.finish() == 0, "\(single.text)")
        let pair = try Self.mpirunChild(2, Self.runArguments(tiny, output: two))
        #expect(pair.finish() == 0, "\(pair.text)")
        #expect(pair.text.contains("data-parallel: 2 ranks × 1 thread"), "\(pair.text)")
        #expect(!single.text.contains("data-parallel"))
        #expect(pair.text.components(separatedBy: "eval @ step 12").count == 2, "rank 0 alone logs: \(pair.text)")
        let description = try JSONSerialization.jsonObject(with: Data(contentsOf: two.appendingPathComponent("run.json"))) as? [String: Any]
        #expect(description?["world_size"] as? Int == 2)
        try Self.expectSameMetrics(one, two)
        #expect(try MetricsLog.read(two.appendingPathComponent("metrics.jsonl")).filter { $0["type"] as? String == "train" }
            .allSatisfy { $0["allreduce_s"] is Double })
        for step in [6, 12] {
            try Self.expectSameWeights(one.appendingPathComponent("step-\(step).safetensors.gz"),
                                       two.appendingPathComponent("step-\(step).safetensors.gz"))
        }

        let resumed = tiny.directory.appendingPathComponent("resumed")
        let resume = try Self.mpirunChild(
            2, ["--resume", one.appendingPathComponent("step-6.safetensors.gz").path, "--output-dir", resumed.path, "--threads", "1"])
        #expect(resume.finish() == 0, "\(resume.text)")
        try Self.expectSameWeights(one.appendingPathComponent("step-12.safetensors.gz"),
                                   resumed.appendingPathComponent("step-12.safetensors.gz"))
    }

    @Test(.enabled(if: mpiAvailable, skipReason), .timeLimit(.minutes(3)))
    func aBatchTheRanksDoNotDivideAndRanksWithOtherArgumentsAreRefused() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        var arguments = SignalTests.longRunArguments(tiny, output: output, maxSteps: 2)
        arguments[arguments.firstIndex(of: "--batch-size")! + 1] = "6"
        let uneven = try Self.mpirunChild(4, arguments)
        #expect(uneven.finish() != 0)
        #expect(uneven.text.contains("--batch-size 6 does not divide among the 4 ranks of this mpirun job"), "\(uneven.text)")

        let executable = try #require(SignalTests.executable).path
        let base = SignalTests.longRunArguments(tiny, output: output, maxSteps: 2)
        let mixed = try Child(
            ["--allow-run-as-root", "--oversubscribe", "-np", "1", executable] + base
                + [":", "-np", "1", executable] + base + ["--lr", "1e-3"],
            environment: Self.containerSafe, executable: URL(fileURLWithPath: try #require(Self.mpirun)))
        #expect(mixed.finish() != 0)
        #expect(mixed.text.contains("the ranks of this mpirun job were started with different arguments: rank(s) 1 differ"),
                "\(mixed.text)")
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent("metrics.jsonl").path))

        var fromStandardInput = base
        fromStandardInput[fromStandardInput.firstIndex(of: "--corpus")! + 1] = "-"
        let piped = try Self.mpirunChild(2, fromStandardInput)
        #expect(piped.finish() != 0)
        #expect(piped.text.contains("--corpus -: under mpirun only rank 0 gets standard input"), "\(piped.text)")
    }

    /// `mpirun -np 1` initialises MPI, so it must finalise it too, or mpirun reports a failure.
    @Test(.enabled(if: mpiAvailable, skipReason), .timeLimit(.minutes(2)))
    func oneRankUnderMpirunRunsToTheEnd() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        let job = try Self.mpirunChild(1, SignalTests.longRunArguments(tiny, output: output, maxSteps: 2))
        #expect(job.finish() == 0, "\(job.text)")
        #expect(!job.text.contains("data-parallel:"), "one rank is one process: \(job.text)")
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("step-2.safetensors.gz").path))
    }

    /// A rank killed mid-run ends the job, mpirun names it, and the last checkpoint stays whole.
    @Test(.enabled(if: mpiAvailable, skipReason), .timeLimit(.minutes(3)))
    func aDyingRankEndsTheJobAndLeavesTheLastCheckpointIntact() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        var arguments = SignalTests.longRunArguments(tiny, output: output)
        arguments[arguments.firstIndex(of: "--save-every")! + 1] = "2"
        let job = try Self.mpirunChild(2, arguments)
        SignalTests.waitForTraining(in: output)
        _ = job.waitForLine(containing: "saved ", timeout: 60)
        let rank1 = try #require(Self.waitForRank(1, of: job), "rank 1 of \(job.text)")
        kill(rank1, SIGKILL)
        #expect(job.finish(timeout: 60) != 0)
        #expect(job.text.contains("rank 1") && job.text.contains("signal 9"), "\(job.text)")
        let checkpoint = try CheckpointReference.resolve(output.path).weights
        let loaded = try LoadedCheckpoint.open(checkpoint)
        #expect(loaded.metadata.step.map { $0 > 0 && $0 % 2 == 0 } == true)
        #expect(try CheckpointStore.readOptimizer(pairedWith: loaded).metadata["step"] == loaded.metadata.step.map(String.init))
    }

    /// SIGTERM to the rank that does not write: every rank stops after the same step, rank 0 saves once.
    @Test(.enabled(if: mpiAvailable, skipReason), .timeLimit(.minutes(3)))
    func aSignalToAnyRankSavesOnceAndStopsEveryRank() throws {
        let tiny = try TinySetup()
        defer { tiny.remove() }
        let output = tiny.directory.appendingPathComponent("run")
        let job = try Self.mpirunChild(2, SignalTests.longRunArguments(tiny, output: output))
        SignalTests.waitForTraining(in: output)
        let rank1 = try #require(Self.waitForRank(1, of: job), "rank 1 of \(job.text)")
        kill(rank1, SIGTERM)
        #expect(job.finish(timeout: 60) == 128 + SIGTERM, "\(job.text)")
        #expect(job.text.contains("resume with: mpirun -np 2 mlm-adapt --resume"), "\(job.text)")
        let trainSteps = try MetricsLog.read(output.appendingPathComponent("metrics.jsonl"))
            .filter { $0["type"] as? String == "train" }.count
        let checkpoints = CheckpointStore(directory: output).checkpoints()
        #expect(checkpoints.map(\.url.lastPathComponent) == ["step-\(trainSteps).safetensors.gz"])
    }

    /// The pid of the child of `mpirun` whose environment says it is `rank`.
    static func rank(_ rank: Int, of mpirun: Int32) -> Int32? {
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for name in processes {
            guard let pid = Int32(name),
                  let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"),
                  Int32(stat[stat.index(close, offsetBy: 2)...].split(separator: " ")[1]) == mpirun,
                  let environment = FileManager.default.contents(atPath: "/proc/\(name)/environ")
            else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}
