import Foundation
import Testing
@testable import Checkpoint

@Suite struct GzipTests {
    static let chunk = 1 << 16

    /// Float-like data (compressible exponents) of sizes around the member boundaries.
    static func sample(_ count: Int) -> [UInt8] {
        randomFloats((count + 3) / 4, seed: UInt64(count)).withUnsafeBytes { Array($0.prefix(count)) }
    }

    @Test(arguments: [0, 1, chunk - 1, chunk, chunk + 1, 5 * chunk + 123])
    func roundTrip(size: Int) throws {
        let input = Self.sample(size)
        let strategies: [(Int32, Gzip.Strategy)] = [(1, .huffmanOnly), (1, .standard), (6, .standard)]
        for (level, strategy) in strategies {
            let options = Gzip.Options(level: level, strategy: strategy, chunkSize: Self.chunk)
            let compressed = try Gzip.compress(input, options: options)
            #expect(Gzip.isGzip(compressed))
            #expect(try Gzip.decompress(compressed, source: "mem.gz") == input)
        }
    }

    /// The concatenated members are one valid gzip file for the standard tool.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/gzip")))
    func gunzipReadsOurFiles() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = Self.sample(3 * Self.chunk + 77)
        let url = folder.appendingPathComponent("data.gz")
        try write(try Gzip.compress(input, options: Gzip.Options(chunkSize: Self.chunk)), to: url)
        #expect(try run("/bin/gzip", ["-t", url.path]).status == 0)
        let unpacked = try run("/bin/gzip", ["-dc", url.path])
        #expect(unpacked.status == 0)
        #expect([UInt8](unpacked.output) == input)
    }

    /// Files from other tools (no length field; here two members) take the sequential path.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/gzip")))
    func readsFilesFromGzipTool() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = Self.sample(100_000), second = Self.sample(3000)
        var concatenated: [UInt8] = []
        for (index, part) in [first, second].enumerated() {
            let url = folder.appendingPathComponent("part\(index)")
            try write(part, to: url)
            concatenated += [UInt8](try run("/bin/gzip", ["-c", url.path]).output)
        }
        #expect(try Gzip.indexOwnMembers(concatenated.withUnsafeBytes { $0 }) == nil)
        #expect(try Gzip.decompress(concatenated, source: "tool.gz") == first + second)
        let damaged = Array(concatenated.dropLast(5))
        let error = try #require(throws: CheckpointError.self) { try Gzip.decompress(damaged, source: "tool.gz") }
        #expect(error.description.contains("tool.gz"))
    }

    struct Damage: CustomTestStringConvertible, Sendable {
        let label: String
        let apply: @Sendable ([UInt8]) -> [UInt8]
        let mustMention: String
        var testDescription: String { label }
    }

    static let damages: [Damage] = [
        Damage(label: "truncated mid-member", apply: { Array($0.prefix($0.count - 1000)) }, mustMention: "truncated"),
        Damage(label: "flipped byte in data", apply: { bytes in
            var copy = bytes
            copy[bytes.count / 2] ^= 0x10
            return copy
        }, mustMention: "member"),
        Damage(label: "flipped CRC byte", apply: { bytes in
            var copy = bytes
            copy[bytes.count - 6] ^= 0x01
            return copy
        }, mustMention: "CRC32 mismatch"),
        Damage(label: "wrong ISIZE", apply: { bytes in
            var copy = bytes
            copy[bytes.count - 4] ^= 0x01
            return copy
        }, mustMention: "ISIZE"),
        Damage(label: "garbage appended", apply: { $0 + [1, 2, 3, 4] }, mustMention: "no valid gzip header"),
    ]

    @Test(arguments: damages)
    func damageIsDetected(_ damage: Damage) throws {
        let compressed = try Gzip.compress(Self.sample(4 * Self.chunk), options: Gzip.Options(chunkSize: Self.chunk))
        let error = try #require(throws: CheckpointError.self) {
            try Gzip.decompress(damage.apply(compressed), source: "/runs/step-9.safetensors.gz")
        }
        guard case .corruptGzip = error else {
            Issue.record("expected corruptGzip, got \(error)")
            return
        }
        #expect(error.description.contains("/runs/step-9.safetensors.gz"))
        #expect(error.description.contains(damage.mustMention), "\(error)")
    }

    /// Truncation exactly at a member boundary is a valid shorter gzip file; the safetensors header,
    /// inflated first, says how long the file must be, so the short file is refused before allocating.
    @Test func truncationAtMemberBoundaryIsCaughtByHeaderCheck() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let values = randomFloats(100_000, seed: 3)
        let url = folder.appendingPathComponent("cut.safetensors.gz")
        try TensorView.withViews(of: [("w", [100_000], values)]) {
            try CheckpointFile.write($0, metadata: [:], to: url, compression: Gzip.Options(chunkSize: Self.chunk))
        }
        let bytes = [UInt8](try Data(contentsOf: url))
        let members = try #require(try Gzip.indexOwnMembers(bytes.withUnsafeBytes { $0 }))
        #expect(members.count > 2)
        try write(Array(bytes.prefix(members[1].deflateRange.lowerBound - Gzip.headerLength)), to: url)
        let error = try #require(throws: CheckpointError.self) { try CheckpointFile.read(url) }
        #expect(error.description.contains(url.path))
        #expect(error.description.contains("truncated"), "\(error)")
    }
}
