import Foundation
import Testing
@testable import Checkpoint

@Suite struct SafeTensorsTests {
    @Test func roundTripKeepsValuesShapesAndMetadata() throws {
        let storage: [(String, [Int], [Float])] = [
            ("a.weight", [3, 5], randomFloats(15, seed: 1)),
            ("b.bias", [7], randomFloats(7, seed: 2)),
            ("empty", [0, 4], []),
            ("scalar", [], [42.5]),
        ]
        let metadata = ["config": "{\"hidden_size\": 32}", "quote\"and\\slash/": "line\nbreak ünïcode"]
        let bytes = TensorView.withViews(of: storage) { SafeTensorsWriter.serialize($0, metadata: metadata) }
        let file = try SafeTensorsFile(bytes: bytes, source: "memory")
        #expect(file.metadata == metadata)
        #expect(file.dataStart % 8 == 0)
        for (name, shape, values) in storage {
            let entry = try #require(file.entry(name))
            #expect(entry.shape == shape)
            #expect(entry.dtype == .F32)
            #expect(try file.floats(name) == values)
        }
    }

    /// Files written by the Python `safetensors` library parse and match torch's values.
    @Test func readsPythonWrittenFile() throws {
        let file = try CheckpointFile.read(Fixtures.folder("tiny-mlm/golden.safetensors"))
        let logits = try #require(file.entry("masked_logits"))
        #expect(logits.dtype == .F32)
        #expect(logits.shape == [3, 100])
        #expect(file.entry("input_ids")?.dtype == .I64)
        #expect(try file.floats("bert.embeddings.LayerNorm.weight").count == 32)
    }

    struct Malformed: CustomTestStringConvertible, Sendable {
        let label: String
        let bytes: [UInt8]
        let mustMention: [String]
        var testDescription: String { label }
    }

    static let malformed: [Malformed] = {
        var tooLarge = withUnsafeBytes(of: UInt64(200_000_000).littleEndian) { Array($0) }
        tooLarge += [UInt8](repeating: 0x20, count: 16)
        let entry = { (name: String, dtype: String, shape: String, begin: Int, end: Int) in
            "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
        }
        return [
            Malformed(label: "shorter than 8 bytes", bytes: [1, 2, 3], mustMention: ["8-byte"]),
            Malformed(label: "header too large", bytes: tooLarge, mustMention: ["exceeds"]),
            Malformed(label: "header past end", bytes: Array(rawSafeTensors(header: "{}", dataCount: 0).prefix(9)),
                      mustMention: ["past the end"]),
            Malformed(label: "bad JSON", bytes: rawSafeTensors(header: "{\"a\": [1,", dataCount: 0), mustMention: ["JSON"]),
            Malformed(label: "size mismatch", bytes: rawSafeTensors(header: "{\(entry("w", "F32", "[2,3]", 0, 20))}", dataCount: 20),
                      mustMention: ["'w'", "needs 24 bytes"]),
            Malformed(label: "overlap",
                      bytes: rawSafeTensors(header: "{\(entry("a", "F32", "[2]", 0, 8)),\(entry("b", "F32", "[2]", 4, 12))}", dataCount: 12),
                      mustMention: ["'b'", "overlaps"]),
            Malformed(label: "gap",
                      bytes: rawSafeTensors(header: "{\(entry("a", "F32", "[1]", 0, 4)),\(entry("b", "F32", "[1]", 8, 12))}", dataCount: 12),
                      mustMention: ["'b'", "gap"]),
            Malformed(label: "out of range", bytes: rawSafeTensors(header: "{\(entry("w", "F32", "[4]", 0, 16))}", dataCount: 8),
                      mustMention: ["'w'", "past the 8-byte data section"]),
            Malformed(label: "trailing data", bytes: rawSafeTensors(header: "{\(entry("w", "F32", "[1]", 0, 4))}", dataCount: 8),
                      mustMention: ["cover 4 bytes"]),
            Malformed(label: "unknown dtype", bytes: rawSafeTensors(header: "{\(entry("w", "F33", "[1]", 0, 4))}", dataCount: 4),
                      mustMention: ["'w'", "F33"]),
            Malformed(label: "negative shape", bytes: rawSafeTensors(header: "{\(entry("w", "F32", "[-1]", 0, 4))}", dataCount: 4),
                      mustMention: ["'w'", "non-negative"]),
            Malformed(label: "non-string metadata",
                      bytes: rawSafeTensors(header: "{\"__metadata__\":{\"step\":3}}", dataCount: 0), mustMention: ["step"]),
        ]
    }()

    @Test(arguments: malformed)
    func malformedFilesGiveNamedErrors(_ testCase: Malformed) throws {
        let error = try #require(throws: CheckpointError.self) {
            try SafeTensorsFile(bytes: testCase.bytes, source: "/x/bad.safetensors")
        }
        let text = error.description
        #expect(text.contains("/x/bad.safetensors"), "\(text)")
        for fragment in testCase.mustMention { #expect(text.contains(fragment), "\(text) lacks \(fragment)") }
    }

    /// I64 buffers validate (their size uses 8 bytes per element) but cannot fill parameters.
    @Test func integerTensorsValidateButDoNotLoadAsFloat() throws {
        let bytes = rawSafeTensors(
            header: "{\"ids\":{\"dtype\":\"I64\",\"shape\":[1,3],\"data_offsets\":[0,24]}}", dataCount: 24)
        let file = try SafeTensorsFile(bytes: bytes, source: "ids.safetensors")
        #expect(file.entry("ids")?.elementCount == 3)
        #expect(throws: CheckpointError.self) { try file.floats("ids") }
    }
}
