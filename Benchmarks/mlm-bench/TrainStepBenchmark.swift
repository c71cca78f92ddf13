import ArgumentParser
import Foundation
import Model
import Optimization
import SeededRandom
import TensorKernels

/// Forward + backward of BERT with the MLM head, measured beside PyTorch (same shapes, same thread count).
struct TrainStepBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step",
        abstract: "BERT masked-LM forward+backward tokens/s, sgemm peak, MFU, and the PyTorch reference.",
        discussion: """
            A step is a whole training step on both sides: zeroed gradients, forward, backward, global-norm
            clipping at 1.0 and the AdamW update (lr 5e-5, weight decay 0.01).
            FLOPs are exact GEMM FLOPs (2·m·n·k per product): every projection, the attention products,
            the MLM transform and the vocabulary GEMM at the masked rows; the backward pass does two GEMMs
            per forward GEMM, so a step is 3× the forward count. Elementwise work is not counted.
            MFU = achieved GEMM FLOP/s ÷ the best sgemm FLOP/s measured at the same thread count.
            PyTorch runs twice: "torch hf" is BertForMaskedLM with labels (logits at every position, what
            transformers users run); "torch gathered" applies the MLM head at the masked rows only, as we do.
            bf16 rows (where bf16 runs: avx512_bf16 or AMX and oneDNN) time our autocast path, with the weight
            conversion after each optimizer step included, beside PyTorch under torch.autocast bf16; their MFU is
            against the best oneDNN bf16 matmul measured at the same thread count.
            """)

    @Option(help: "Comma-separated thread counts.") var threads = "1,2"
    @Option(help: "Comma-separated models: small (4×256, 4 heads, 1024), minilm (6×384, 12 heads, 1536).")
    var models = "small,minilm"
    @Option(help: "Timed steps per measurement.") var steps = 5
    @Option(help: "Untimed warm-up steps.") var warmup = 1
    @Option var batch = 16
    @Option var seq = 128
    @Option(help: "Fraction of tokens masked.") var maskFraction = 0.15
    @Option(help: "Also run this many steps of the first model and print RSS at step 1 and at the end.")
    var rssSteps = 0
    @Flag(help: "Skip the PyTorch reference.") var noReference = false
    @Option(help: "Comma-separated precisions of our rows: fp32, bf16 (bf16 only where it runs).")
    var precisions = "fp32,bf16"

    struct Shape {
        let name: String, layers: Int, hidden: Int, heads: Int, intermediate: Int
        func config() -> BertConfig {
            BertConfig(
                vocabSize: 30522, hiddenSize: hidden, numHiddenLayers: layers, numAttentionHeads: heads,
                intermediateSize: intermediate, maxPositionEmbeddings: 512)
        }
    }
    static let shapes = [
        Shape(name: "small", layers: 4, hidden: 256, heads: 4, intermediate: 1024),
        Shape(name: "minilm", layers: 6, hidden: 384, heads: 12, intermediate: 1536),
    ]

    func run() throws {
        let threadCounts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let chosen = try models.split(separator: ",").map { name in
            guard let shape = Self.shapes.first(where: { $0.name == name }) else {
                throw ValidationError("unknown model '\(name)' (small, minilm)")
            }
            return shape
        }
        let masked = Int((Double(batch * seq) * maskFraction).rounded())
        let hasTorch = !noReference && Self.torchAvailable()
        print("OpenBLAS kernel: \(OpenBLASRuntime.coreName); batch \(batch) × seq \(seq), \(masked) masked tokens")
        if !noReference && !hasTorch { print("PyTorch/transformers not importable: reference skipped") }
        var rows: [ResolvedPrecision] = []
        for name in precisions.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let precision = Precision(rawValue: name), precision != .auto else {
                throw ValidationError("--precisions: '\(name)' is not fp32 or bf16")
            }
            do { rows.append(try Precision.resolve(requested: precision)) } catch { print("bf16 rows skipped: \(error)") }
        }
        print("threads | model  | prec | ms/step | tokens/s | GEMM GFLOP/step | GFLOP/s | peak   | MFU   | torch hf tok/s | ratio  | torch gathered tok/s | ratio")
        for threadCount in threadCounts {
            Parallel.workerCount = threadCount
            let peak = Self.measureGemmPeak(tokens: batch * seq, hidden: 384, intermediate: 1536, masked: masked)
            print("        sgemm GFLOP/s at \(threadCount) thread(s): " + peak.map { "\($0.0) \(String(format: "%.0f", $0.1))" }.joined(separator: ", "))
            let bf16Peak = Self.measureOneDNNBF16Peak(tokens: batch * seq, hidden: 384, intermediate: 1536, masked: masked)
            switch bf16Peak {
            case .success(let peaks):
                print("        oneDNN bf16 matmul GFLOP/s at \(threadCount) thread(s): "
                    + peaks.map { "\($0.0) \(String(format: "%.0f", $0.1)) (\($0.2))" }.joined(separator: ", "))
            case .failure(let error):
                print("        oneDNN bf16 matmul peak: skipped: \(error)")
            }
            if hasTorch, let torchPeaks = Self.torchMatmulPeaks(
                threads: threadCount, tokens: batch * seq, hidden: 384, intermediate: 1536, masked: masked)
            {
                for dtype in ["fp32", "bf16"] {
                    guard let figures = torchPeaks[dtype] else { continue }
                    print("        torch \(dtype) matmul GFLOP/s at \(threadCount) thread(s): "
                        + figures.map { "\($0.0) \(String(format: "%.0f", $0.1))" }.joined(separator: ", "))
                }
            }
            if let auto = try? Precision.resolve(requested: .auto) { print("        --precision auto here: \(auto.precision.rawValue) (\(auto.reason))") }
            for shape in chosen {
                for precision in rows {
                    let bf16 = precision.precision == .bf16
                    // MFU of a bf16 row is against oneDNN's bf16 peak; without it (emulated bf16) there is none.
                    let best = bf16 ? (try? bf16Peak.get())?.map(\.1).max() : peak.map(\.1).max()
                    let seconds = try measureStep(
                        shape, precision: precision, masked: masked, steps: steps, warmup: warmup, rssSteps: 0)
                    let flops = Self.gemmFlops(shape, batch: batch, seq: seq, masked: masked)
                    let achieved = flops / seconds / 1e9
                    let ours = Double(batch * seq) / seconds
                    var torchColumns: [String] = []
                    for head in ["hf", "gathered"] {
                        if hasTorch, let torch = Self.torchTokensPerSecond(
                            shape, head: head, autocast: bf16, threads: threadCount, batch: batch, seq: seq,
                            maskFraction: maskFraction, steps: steps, warmup: warmup)
                        {
                            torchColumns += [String(format: "%.0f", torch), String(format: "%.2f×", ours / torch)]
                        } else {
                            torchColumns += ["-", "-"]
                        }
                    }
                    print(String(
                        format: "%7d | %-6@ | %@ | %7.1f | %8.0f | %15.1f | %7.1f | %6@ | %5@ | %14@ | %-6@ | %20@ | %@",
                        threadCount, shape.name as NSString, precision.precision.rawValue as NSString, seconds * 1000, ours,
                        flops / 1e9, achieved, (best.map { String(format: "%.1f", $0) } ?? "-") as NSString,
                        (best.map { String(format: "%.1f%%", 100 * achieved / $0) } ?? "-") as NSString, torchColumns[0] as NSString,
                        torchColumns[1] as NSString, torchColumns[2] as NSString, torchColumns[3] as NSString))
                }
            }
        }
        if rssSteps > 0, let shape = chosen.first {
            for precision in rows {
                print("RSS, \(precision.precision.rawValue):")
                _ = try measureStep(shape, precision: precision, masked: masked, steps: rssSteps, warmup: 0, rssSteps: rssSteps)
            }
        }
    }

    /// oneDNN bf16 matmul GFLOP/s for the step's main shapes (best of 3), with oneDNN's kernel name.
    static func measureOneDNNBF16Peak(tokens: Int, hidden: Int, intermediate: Int, masked: Int)
        -> Result<[(String, Double, String)], OneDNNUnavailable>
    {
        if case .failure(let error) = OneDNNBF16Gemm.shared { return .failure(error) }
        return Result {
            try peakShapes(tokens: tokens, hidden: hidden, intermediate: intermediate, masked: masked).map { name, ta, tb, m, n, k in
                let matmul = try OneDNNMatmul(
                    inputs: .bf16, transposeA: ta, transposeB: tb, m: m, n: n, k: k, lda: ta ? m : k, ldb: tb ? k : n,
                    ldc: n, accumulate: false)
                let a = [UInt16](repeating: 0x3C23, count: m * k), b = [UInt16](repeating: 0x3CA3, count: k * n)
                var c = [Float](repeating: 0, count: m * n)
                var best = Double.infinity
                for _ in 0..<3 {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = matmul.run(a: a, b: b, c: &c)
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                return (name, 2 * Double(m) * Double(n) * Double(k) / best / 1e9, matmul.implementation)
            }
        }.mapError { $0 as? OneDNNUnavailable ?? OneDNNUnavailable(description: "\($0)") }
    }

    /// Median seconds per step (zero gradients, forward, backward).
    func measureStep(
        _ shape: Shape, precision: ResolvedPrecision, masked: Int, steps: Int, warmup: Int, rssSteps: Int
    ) throws -> Double {
        let layout = ParameterLayout(config: shape.config(), heads: .maskedLM)
        let model = BertModel(layout: layout)
        model.initializeWeights(seed: 1)
        model.setPrecision(precision)
        let workspace = try BertWorkspace(layout: layout, batchSize: batch, seqLength: seq, maxMaskedTokens: masked)
        let spans = TrainableSpans(layout: layout, isTrainable: { _ in true })
        let optimizer = try AdamW(spans: spans, threads: Parallel.workerCount)
        var generator = SplitMix64(afterOneDrawFrom: 7)
        let tokens = batch * seq
        let ids = (0..<tokens).map { _ in Int32(5 + generator.next() % 30000) }
        let types = [Int32](repeating: 0, count: tokens)
        let mask = [UInt8](repeating: 1, count: tokens)
        var order = Array(0..<tokens)
        order.shuffle(using: &generator)
        let positions = order.prefix(masked).sorted().map { Int32($0) }
        let labels = positions.map { ids[Int($0)] }
        var times: [Double] = []
        times.reserveCapacity(steps)
        try ids.withUnsafeBufferPointer { i in
            try types.withUnsafeBufferPointer { t in
                try mask.withUnsafeBufferPointer { m in
                    try positions.withUnsafeBufferPointer { p in
                        try labels.withUnsafeBufferPointer { l in
                            let inputs = EncoderInputs(batchSize: batch, seqLength: seq, inputIds: i, tokenTypeIds: t, attentionMask: m)
                            for step in 0..<(warmup + steps) {
                                let start = DispatchTime.now().uptimeNanoseconds
                                model.zeroGradients()
                                _ = try model.maskedLMForward(
                                    inputs, maskedPositions: p, labels: l, workspace: workspace, training: true,
                                    dropoutSeed: UInt64(step))
                                try model.maskedLMBackward(workspace: workspace)
                                // The optimizer step as the trainer takes it; the next forward converts the bf16 weights.
                                let clipping = GradientClipping.factor(
                                    of: UnsafeBufferPointer(model.gradients), spans: spans, maxNorm: 1,
                                    threads: Parallel.workerCount)
                                optimizer.update(
                                    parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients),
                                    gradientScale: clipping.factor, learningRate: 5e-5)
                                model.parametersDidChange()
                                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                                if step >= warmup { times.append(elapsed) }
                                if rssSteps > 0 && (step == 0 || step == warmup + steps - 1) {
                                    print("RSS at step \(step + 1) of \(shape.name): \(Self.residentMegabytes()) MB")
                                }
                            }
                        }
                    }
                }
            }
        }
        return times.sorted()[times.count / 2]
    }

    static func residentMegabytes() -> String {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return "?" }
        return String(format: "%.1f", Double(pages * Int(sysconf(Int32(_SC_PAGESIZE)))) / 1_048_576)
    }

    /// Exact GEMM FLOPs of one step (forward ×3).
    static func gemmFlops(_ s: Shape, batch: Int, seq: Int, masked: Int) -> Double {
        let t = Double(batch * seq), h = Double(s.hidden), i = Double(s.intermediate)
        let attention = 2 * 2 * Double(batch) * Double(seq) * Double(seq) * h  // QKᵀ and PV over all heads
        let layer = 2 * t * h * h * 4 + 2 * 2 * t * h * i + attention
        let head = 2 * Double(masked) * h * h + 2 * Double(masked) * h * 30522
        return 3 * (Double(s.layers) * layer + head)
    }

    /// A square 2048³ product and the step's main GEMMs: (name, transpose A, transpose B, m, n, k), row-major.
    static func peakShapes(tokens: Int, hidden: Int, intermediate: Int, masked: Int)
        -> [(String, Bool, Bool, Int, Int, Int)]
    {
        [
            ("2048³", false, false, 2048, 2048, 2048),
            ("FFN x·Wᵀ", false, true, tokens, intermediate, hidden),
            ("FFN dW", true, false, intermediate, hidden, tokens),
            ("vocab", false, true, masked, 30522, hidden),
        ]
    }

    /// PyTorch's matmul GFLOP/s on the same shapes (best of 8 calls), per dtype (fp32, bf16), as (shape name,
    /// GFLOP/s): the GEMM libraries PyTorch ships (MKL, a newer oneDNN) beside ours; nil without torch.
    static func torchMatmulPeaks(threads: Int, tokens: Int, hidden: Int, intermediate: Int, masked: Int)
        -> [String: [(String, Double)]]?
    {
        let shapes = peakShapes(tokens: tokens, hidden: hidden, intermediate: intermediate, masked: masked)
        let spec = shapes.map { "\($0.1 ? 1 : 0),\($0.2 ? 1 : 0),\($0.3),\($0.4),\($0.5)" }.joined(separator: ";")
        guard let json = referenceJSON([referenceScript.path, "--threads", "\(threads)", "--matmul-peaks", spec]) else { return nil }
        return json.compactMapValues { ($0 as? [Double]).map { Array(zip(shapes.map(\.0), $0)) } }
    }

    /// sgemm GFLOP/s for `peakShapes` (best of 3).
    static func measureGemmPeak(tokens: Int, hidden: Int, intermediate: Int, masked: Int) -> [(String, Double)] {
        return peakShapes(tokens: tokens, hidden: hidden, intermediate: intermediate, masked: masked).map { name, ta, tb, m, n, k in
            let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            defer { a.deallocate(); b.deallocate(); c.deallocate() }
            a.initialize(repeating: 0.01, count: m * k)
            b.initialize(repeating: 0.02, count: k * n)
            c.initialize(repeating: 0, count: m * n)
            var best = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                Gemm.multiply(
                    transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
                    beta: 0, c: c, ldc: n)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return (name, 2 * Double(m) * Double(n) * Double(k) / best / 1e9)
        }
    }

    static let referenceScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("reference/train_step_reference.py")

    static func torchAvailable() -> Bool {
        (try? runPython(["-c", "import torch, transformers"]))?.status == 0
    }

    static func torchTokensPerSecond(
        _ s: Shape, head: String, autocast: Bool, threads: Int, batch: Int, seq: Int, maskFraction: Double, steps: Int,
        warmup: Int
    ) -> Double? {
        let arguments = [
            referenceScript.path, "--threads", "\(threads)", "--layers", "\(s.layers)", "--hidden", "\(s.hidden)",
            "--heads", "\(s.heads)", "--intermediate", "\(s.intermediate)", "--batch", "\(batch)", "--seq", "\(seq)",
            "--mask-fraction", "\(maskFraction)", "--steps", "\(steps)", "--warmup", "\(warmup)", "--head", head,
        ] + (autocast ? ["--autocast"] : [])
        guard let value = referenceFigure(arguments, key: "tokens_per_second") else {
            print("PyTorch reference (\(head)) failed for \(s.name)")
            return nil
        }
        return value
    }

    /// Runs a reference script and reads `key` from the JSON object on its last output line; nil when it fails.
    static func referenceFigure(_ arguments: [String], key: String) -> Double? {
        referenceJSON(arguments)?[key] as? Double
    }

    /// The JSON object a reference script prints on its last output line; nil when it fails.
    static func referenceJSON(_ arguments: [String]) -> [String: Any]? {
        guard let result = try? runPython(arguments), result.status == 0,
            let line = result.output.split(separator: "\n").last
        else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    static func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
