import Foundation
import SeededRandom
import Testing
@testable import Corpus

/// `TextCheck` against Swift's own UTF-8 validation, and the file, line and byte it names.
@Suite struct TextCheckTests {
    static func check(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { TextCheck.firstNonText($0)?.0 }
    }

    @Test(arguments: [
        ([UInt8]("plain ascii".utf8), nil),
        (Array("é € 😀 \u{10FFFF}".utf8), nil),
        ([0x61, 0xC0, 0x80], 1),              // overlong NUL
        ([0xE0, 0x80, 0xAF], 0),              // overlong three-byte form
        ([0x61, 0x62, 0xED, 0xA0, 0x80], 2),  // a UTF-16 surrogate
        ([0xF4, 0x90, 0x80, 0x80], 0),        // above U+10FFFF
        ([0xE2, 0x82], 0),                    // cut short at the end
        ([0xE2, 0x41, 0xAC], 0),              // continuation missing
        ([0x80], 0),                          // a lone continuation byte
        ([0x61, 0x00, 0x62], 1),              // NUL: binary
    ] as [([UInt8], Int?)])
    func namedCases(bytes: [UInt8], firstBad: Int?) {
        #expect(Self.check(bytes) == firstBad, "\(bytes)")
    }

    /// On random byte strings biased towards UTF-8 lead and continuation bytes: no problem exactly when Swift
    /// accepts the bytes as UTF-8 and they hold no NUL, and the prefix before the problem is valid UTF-8.
    @Test func agreesWithSwiftsValidation() {
        var random = SplitMix64(state: 2024)
        let alphabet: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
        var accepted = 0
        for _ in 0..<20_000 {
            let bytes = (0..<(1 + random.below(6))).map { _ in alphabet[random.below(alphabet.count)] }
            let problem = Self.check(bytes)
            let swiftValid = bytes.withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) } != nil
            #expect((problem == nil) == (swiftValid && !bytes.contains(0)), "\(bytes)")
            if let problem {
                #expect(String(validating: bytes[..<problem], as: UTF8.self) != nil, "\(bytes)")
            } else {
                accepted += 1
            }
        }
        #expect(accepted > 300, "the alphabet rarely forms valid text: \(accepted)")
    }

    @Test func namesTheFileLineAndByte() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("textcheck-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good.txt"), bad = folder.appendingPathComponent("bad.txt")
        try Data("fine\ntext\n".utf8).write(to: good)
        try Data("first line\r\nsecond ".utf8 + [0xFF] + Data(" third\n".utf8)).write(to: bad)
        #expect(try TextCheck.firstProblem(in: [good.path]) == nil)
        let problem = try #require(try TextCheck.firstProblem(in: [good.path, bad.path]))
        #expect(problem == TextCheck.Problem(file: bad.path, line: 2, byteOffset: 19, kind: .invalidUTF8))
        #expect(problem.description.contains(bad.path) && problem.description.contains("line 2 (byte 19)"))
        // The bundled invalid-UTF-8 fixture and a gzip file are checked the same way.
        #expect(try TextCheck.firstProblem(in: [Fixture.path("invalid-utf8.txt")])?.kind == .invalidUTF8)
        #expect(try TextCheck.firstProblem(in: [Fixture.path("multi-member.txt.gz")]) == nil)
    }
}

/// The same file named twice (another spelling, a glob, a link) is read once, and the repeat is reported.
@Test func aFileNamedTwiceIsReadOnce() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dupes-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let a = folder.appendingPathComponent("a.txt").path, b = folder.appendingPathComponent("b.txt").path
    try Data("a\n".utf8).write(to: URL(fileURLWithPath: a))
    try Data("b\n".utf8).write(to: URL(fileURLWithPath: b))
    let link = folder.appendingPathComponent("link.txt").path
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: a)
    let respelled = folder.path + "/./a.txt"
    let resolved = try CorpusSources.resolve([a, respelled, b, folder.path + "/*.txt"])
    #expect(resolved.files == [a, b])
    #expect(resolved.duplicates == [
        .init(repeated: respelled, first: a), .init(repeated: a, first: a), .init(repeated: b, first: b),
        .init(repeated: link, first: a),
    ])
    #expect(try CorpusSources.resolve([a, b]).duplicates.isEmpty)
    #expect(CorpusSources.absolute("x/../y.txt", from: "/data") == "/data/y.txt")
    #expect(CorpusSources.absolute("/abs/*.txt", from: "/data") == "/abs/*.txt")
    #expect(CorpusSources.absolute("-", from: "/data") == "-")
}
