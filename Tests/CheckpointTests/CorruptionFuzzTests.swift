import Foundation
import SeededRandom
import Testing
@testable import Checkpoint

/// The probe of issue 15, kept small and permanent: truncations, bit flips and crafted sizes applied to
/// a compressed and a plain checkpoint, from a fixed seed. Every damaged file must either be refused
/// with a `CheckpointError` or load exactly the original content (a flip in an unused gzip header byte
/// such as MTIME changes nothing); a silently different model, or an abort, fails the test.
@Suite struct CorruptionFuzzTests {
    static let tensors: [(String, [Int], [Float])] = [
        ("bert.embeddings.word_embeddings.weight", [300, 200], randomFloats(60_000, seed: 11)),
        ("cls.predictions.bias", [300], randomFloats(300, seed: 12)),
    ]
    static let metadata = ["vocab": "[PAD]\n[UNK]\n", "step": "7"]

    struct Original {
        let bytes: [UInt8]
        let file: SafeTensorsFile
    }

    static func original(compressed: Bool, in folder: URL) throws -> (URL, Original) {
        let url = folder.appendingPathComponent(compressed ? "model.safetensors.gz" : "model.safetensors")
        try TensorView.withViews(of: tensors) {
            try CheckpointFile.write($0, metadata: metadata, to: url, compression: Gzip.Options(chunkSize: 1 << 16))
        }
        return (url, Original(bytes: [UInt8](try Data(contentsOf: url)), file: try CheckpointFile.read(url)))
    }

    /// nil when the damaged file was refused; otherwise whether it loaded the original content exactly.
    static func loadsOriginal(_ damaged: [UInt8], at url: URL, original: Original) throws -> Bool? {
        try write(damaged, to: url)
        let loaded: SafeTensorsFile
        do { loaded = try CheckpointFile.read(url) } catch is CheckpointError { return nil }
        guard loaded.metadata == original.file.metadata, loaded.entries == original.file.entries else { return false }
        return try original.file.entries.allSatisfy { try loaded.floats($0.name) == original.file.floats($0.name) }
    }

    @Test(arguments: [true, false])
    func damagedFilesAreRefusedOrUnchanged(compressed: Bool) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (url, original) = try Self.original(compressed: compressed, in: folder)
        var random = SplitMix64(state: compressed ? 1 : 2)
        var refused = 0, unchanged = 0, silentlyDifferent = 0
        func tally(_ damaged: [UInt8]) throws {
            switch try Self.loadsOriginal(damaged, at: url, original: original) {
            case nil: refused += 1
            case true?: unchanged += 1
            case false?: silentlyDifferent += 1
            }
        }
        for _ in 0..<60 {
            try tally(Array(original.bytes.prefix(Int.random(in: 0..<original.bytes.count, using: &random))))
        }
        for _ in 0..<200 {
            var damaged = original.bytes
            damaged[Int.random(in: 0..<damaged.count, using: &random)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
            try tally(damaged)
        }
        #expect(silentlyDifferent == 0)
        #expect(refused >= 250, "refused \(refused), unchanged \(unchanged)")
    }

    /// A member that claims 4 GiB, a header that claims a huge tensor: refused before allocating.
    @Test func craftedSizesAreRefusedBeforeAllocating() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (url, original) = try Self.original(compressed: true, in: folder)
        let members = try #require(try Gzip.indexOwnMembers(original.bytes.withUnsafeBytes { $0 }))
        for member in members {
            var damaged = original.bytes
            let isizeOffset = member.deflateRange.upperBound + 4
            for i in 0..<4 { damaged[isizeOffset + i] = 0xFF }
            #expect(try Self.loadsOriginal(damaged, at: url, original: original) == nil)
        }
        // A plain file whose header describes 2^40 floats, behind a valid gzip stream.
        let shape = 1 << 40
        let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[0,\(4 * shape)]}}"
        var plain = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init)
        plain += Array(header.utf8) + [UInt8](repeating: 0, count: 64)
        try write(try Gzip.compress(plain), to: url)
        let error = try #require(throws: CheckpointError.self) { try CheckpointFile.read(url) }
        #expect(error.description.contains("memory"), "\(error)")
    }

    /// Sizes near Int.max once trapped on arithmetic overflow (an abort) instead of being refused.
    @Test(arguments: [true, false])
    func sizesThatOverflowAreRefused(compressed: Bool) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(compressed ? "crafted.safetensors.gz" : "crafted.safetensors")
        let headers = [
            // 2^62 floats: the element count fits in Int, the byte count does not.
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[\(1 << 62)],\"data_offsets\":[0,64]}}",
            // A consistent entry whose end plus the header's length passes Int.max.
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[\((1 << 61) - 256)],\"data_offsets\":[0,\(Int.max - 1023)]},"
                + "\"__metadata__\":{\"pad\":\"\(String(repeating: " ", count: 1100))\"}}",
        ]
        for header in headers {
            var plain = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init)
            plain += Array(header.utf8) + [UInt8](repeating: 0, count: 64)
            try write(compressed ? try Gzip.compress(plain) : plain, to: url)
            let error = try #require(throws: CheckpointError.self) { try CheckpointFile.read(url) }
            #expect(error.description.contains("'w'"), "\(error)")
        }
    }

    @Test func nonFiniteWeightsAreNeitherWrittenNorLoaded() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("nan.safetensors")
        var values = randomFloats(100, seed: 5)
        values[42] = .nan
        let writeError = try #require(throws: CheckpointError.self) {
            try TensorView.withViews(of: [("w", [100], values)]) { try CheckpointFile.write($0, metadata: [:], to: url) }
        }
        #expect(writeError.description.contains("'w'") && writeError.description.contains("non-finite"))
        #expect(!FileManager.default.fileExists(atPath: url.path))
        // A file from another writer (no checksums) with an Inf in it.
        values[42] = .infinity
        let bytes = TensorView.withViews(of: [("w", [100], values)]) { SafeTensorsWriter.serialize($0, metadata: [:]) }
        try write(bytes, to: url)
        let file = try CheckpointFile.read(url)
        let loadError = try #require(throws: CheckpointError.self) { try file.floats("w") }
        #expect(loadError.description.contains("'w'") && loadError.description.contains("non-finite"))
    }
}
