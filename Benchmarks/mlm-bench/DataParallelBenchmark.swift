import ArgumentParser
import Foundation

/// Data-parallel scaling of the real `mlm-adapt` run: one process, then `mpirun -np N`, each rank with the
/// same threads, on the same global batch; tokens/s from the runs' own metrics.jsonl (their step times,
/// after a few untimed steps) and the seconds each step spent in the gradient allreduce.
struct DataParallelBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-parallel",
        abstract: "Adapt tokens/s on 1 process against N mpirun ranks (same global batch), and the allreduce time per step.",
        discussion: """
            Each run is `mlm-adapt --init MODEL --corpus CORPUS --head-warmup-steps 0 …` (every step a full \
            backward pass through the encoder), N > 1 under `mpirun -np N` (--oversubscribe, and \
            --allow-run-as-root as root), with --threads per rank. Run it on an otherwise idle machine with at \
            least N × threads cores; the first --untimed steps (first-touch of the workspaces) are left out.
            """)

    @Option(help: "Comma-separated rank counts; 1 runs without mpirun.") var ranks = "1,2"
    @Option(help: "Threads per rank.") var threads = 1
    @Option(help: "Global sequences per step.") var batchSize = 16
    @Option var maxSeqLength = 128
    @Option(help: "Steps per run.") var steps = 12
    @Option(help: "Steps left out of the timing at the start of each run (at least 1).") var untimed = 2
    @Option var precision = "fp32"
    @Option(help: "Starting model.") var initModel = "cache/models/all-MiniLM-L6-v2"
    @Option var corpus = "Corpora/legal.txt"
    @Option(help: "The mlm-adapt executable (default: next to this one).") var mlmAdapt: String?
    @Option(help: "mpirun (default: from PATH).") var mpirun: String?
    @Option(help: "Folder for the run folders and logs (default: a temporary folder).") var work: String?

    func validate() throws {
        guard threads > 0, batchSize > 0, steps > untimed, untimed >= 1 else {
            throw ValidationError("--threads and --batch-size must be positive, --untimed at least 1, and --steps above it")
        }
        for n in rankCounts where n < 1 || batchSize % n != 0 {
            throw ValidationError("--ranks \(n): every rank count must be positive and divide --batch-size \(batchSize)")
        }
    }

    var rankCounts: [Int] { ranks.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    struct Measurement {
        let ranks: Int
        let tokensPerSecond: Double
        let secondsPerStep: Double
        let allreduceSecondsPerStep: Double?
        let openBLASKernel: String?
    }

    func run() throws {
        let fm = FileManager.default
        for path in [initModel, corpus] where !fm.fileExists(atPath: path) {
            throw ValidationError("\(path) does not exist (run Corpora/fetch.sh, or pass --init-model/--corpus)")
        }
        let executable = mlmAdapt ?? Subprocess.sibling("mlm-adapt")
        let launcher = mpirun ?? Subprocess.which("mpirun")
        let folder = URL(fileURLWithPath: work ?? NSTemporaryDirectory() + "mlm-bench-data-parallel-\(getpid())")
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let machine = MachineFacts.collect()
        print(machine.markdownLines.joined(separator: "\n"))
        print("- Run: all-MiniLM-L6-v2 shape from \(initModel), global batch \(batchSize) × \(maxSeqLength), \(threads) thread(s) per rank, "
            + "\(precision), steps \(untimed + 1)–\(steps) timed")
        var results: [Measurement] = []
        for n in rankCounts {
            let output = folder.appendingPathComponent("ranks-\(n)")
            try? fm.removeItem(at: output)
            let arguments = [
                "--init", initModel, "--corpus", corpus, "--head-warmup-steps", "0", "--max-steps", "\(steps)",
                "--batch-size", "\(batchSize)", "--max-seq-length", "\(maxSeqLength)", "--eval-every", "0",
                "--eval-batches", "1", "--save-every", "0", "--keep-last", "1", "--threads", "\(threads)",
                "--precision", precision, "--output-dir", output.path,
            ]
            let log = folder.appendingPathComponent("ranks-\(n).log")
            let result: Subprocess.Result
            if n == 1 {
                result = try Subprocess.run(executable, arguments, log: log)
            } else {
                guard let launcher else {
                    print("ranks \(n): skipped, mpirun not found (Debian's openmpi-bin; make deps)")
                    continue
                }
                // One core per rank unless a rank runs several threads.
                let binding = threads == 1 ? ["--bind-to", "core"] : ["--bind-to", "none"]
                let root = getuid() == 0 ? ["--allow-run-as-root"] : []
                result = try Subprocess.run(
                    launcher, root + ["--oversubscribe"] + binding + ["-np", "\(n)", executable] + arguments, log: log)
            }
            results.append(try measure(ranks: n, metrics: output.appendingPathComponent("metrics.jsonl"), log: result.output))
        }
        if let kernel = results.compactMap(\.openBLASKernel).first { print("- \(kernel)") }
        print("")
        print("| ranks × threads | s/step | tokens/s | speed-up | allreduce s/step | allreduce share |")
        print("|---|---:|---:|---:|---:|---:|")
        let base = results.first { $0.ranks == 1 }?.tokensPerSecond
        for m in results {
            let speedup = base.map { String(format: "%.2f×", m.tokensPerSecond / $0) } ?? "-"
            let allreduce = m.allreduceSecondsPerStep.map { String(format: "%.3f", $0) } ?? "-"
            let share = m.allreduceSecondsPerStep.map { String(format: "%.1f%%", 100 * $0 / m.secondsPerStep) } ?? "-"
            print("| \(m.ranks) × \(threads) | " + String(format: "%.3f", m.secondsPerStep) + " | "
                + String(format: "%.0f", m.tokensPerSecond) + " | \(speedup) | \(allreduce) | \(share) |")
        }
        print("\nlogs and run folders: \(folder.path)")
    }

    /// Step times from consecutive train lines' `elapsed`, after the untimed steps.
    func measure(ranks: Int, metrics: URL, log: String) throws -> Measurement {
        let lines = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.filter { $0["type"] as? String == "train" }
        guard lines.count == steps else {
            throw SubprocessError(description: "\(metrics.path): \(lines.count) train lines, expected \(steps)")
        }
        // Step i's line is written when it ends: steps untimed..<steps take elapsed[steps-1] - elapsed[untimed-1].
        let timed = lines[untimed...]
        let elapsed = lines.map { $0["elapsed"] as? Double ?? 0 }
        let seconds = elapsed[steps - 1] - elapsed[untimed - 1]
        let timedSteps = steps - untimed
        let tokens = timed.reduce(0) { $0 + ($1["tokens"] as? Int ?? 0) }
        let allreduce = timed.compactMap { $0["allreduce_s"] as? Double }
        return Measurement(
            ranks: ranks, tokensPerSecond: Double(tokens) / seconds, secondsPerStep: seconds / Double(timedSteps),
            allreduceSecondsPerStep: allreduce.isEmpty ? nil : allreduce.reduce(0, +) / Double(allreduce.count),
            openBLASKernel: log.split(separator: "\n").first { $0.hasPrefix("OpenBLAS kernel:") }.map(String.init))
    }
}
