import Foundation
import Testing
@testable import Corpus

private func resolved(_ sources: [String]) throws -> [String] {
    try CorpusSources.resolve(sources).files.map { String($0.dropFirst(Fixture.folder.path.count + 1)) }
}

@Test("folders are searched recursively for .txt and .gz, sorted; globs support *, ? and **", arguments: [
    (["folder"], ["folder/a.txt", "folder/b.txt", "folder/sub/c.txt", "folder/sub/d.txt.gz"]),
    (["folder/*"], ["folder/a.txt", "folder/b.txt", "folder/sub/c.txt", "folder/sub/d.txt.gz"]),
    (["folder/?.txt"], ["folder/a.txt", "folder/b.txt"]),
    (["folder/**/*.txt"], ["folder/a.txt", "folder/b.txt", "folder/sub/c.txt"]),
    (["**/*.gz"], ["folder/sub/d.txt.gz", "multi-member.txt.gz", "not-gzip.gz", "padded.txt.gz", "truncated.txt.gz"]),
    (["folder/sub/*", "folder/a.txt", "folder"], ["folder/sub/c.txt", "folder/sub/d.txt.gz", "folder/a.txt", "folder/b.txt"]),
    (["folder/notes.md"], ["folder/notes.md"]),
])
func sourcesResolve(patterns: [String], expected: [String]) throws {
    #expect(try resolved(patterns.map(Fixture.path)) == expected)
}

@Test("gzip files, multi-member included, read exactly like their plain text")
func gzipMatchesPlainText() throws {
    func documents(_ name: String) throws -> [String] {
        let reader = try DocumentReader(path: Fixture.path(name), position: .start, mode: .documents)
        var result: [String] = []
        while try reader.next() { result.append(reader.decode().text) }
        return result
    }
    let plain = try documents("multi-member.txt")
    #expect(plain == (try Fixture.documents("multi-member.txt", mode: .documents)))
    #expect(try documents("multi-member.txt.gz") == plain)
    // Members one and two, with an empty member between them and zero padding after.
    let firstTwoMembers = try String(contentsOfFile: Fixture.path("multi-member.txt"), encoding: .utf8)
        .split(separator: "\n", omittingEmptySubsequences: false).prefix(400).joined(separator: "\n")
    #expect(try documents("padded.txt.gz") == Fixture.documents(in: firstTwoMembers, mode: .documents))
}

@Test("a reader started at a saved position continues with the same lines, in gzip members too",
      arguments: ["multi-member.txt", "multi-member.txt.gz"])
func readersResumeAtPositions(name: String) throws {
    let reader = try LineReader(path: Fixture.path(name), position: .start)
    var positions: [FilePosition] = []
    var lines: [[UInt8]] = []
    while true {
        positions.append(reader.position)
        guard let line = try reader.nextLine() else { break }
        lines.append(Array(line.bytes))
    }
    #expect(lines.count == 600)
    if name.hasSuffix(".gz") {
        #expect(Set(positions.map(\.memberOffset)).count == 3, "three members, each a restart point")
    }
    for index in stride(from: 0, to: lines.count, by: 37) {
        let resumed = try LineReader(path: Fixture.path(name), position: positions[index])
        var rest: [[UInt8]] = []
        while let line = try resumed.nextLine() {
            #expect(line.number == index + 1 + rest.count)
            rest.append(Array(line.bytes))
        }
        #expect(rest == Array(lines[index...]))
    }
}

private func firstBatch(_ sources: [String], mode: CorpusMode = .lines) throws -> CorpusStreamer {
    let streamer = try CorpusStreamer(
        options: CorpusOptions(sources: sources, mode: mode, maxSeqLength: 16, shuffleBufferSize: 0, validationFraction: 0),
        tokenizer: ToyTokenizer())
    var batch = TokenBatch(batchSize: 2, seqLength: 16, padId: 0)
    while try streamer.nextBatch(into: &batch) {}
    return streamer
}

@Test("bad sources are clear errors naming the file")
func badSourcesThrow() throws {
    let missing = Fixture.path("folder/missing.txt")
    #expect(throws: CorpusError.missingFile(path: missing)) { try firstBatch([missing]) }
    let noText = Fixture.path("no-text")
    #expect(throws: CorpusError.noTextFiles(folder: noText)) { try firstBatch([noText]) }
    let glob = Fixture.path("folder/**/*.json")
    #expect(throws: CorpusError.globMatchedNothing(pattern: glob)) { try firstBatch([glob]) }
    let blank = Fixture.path("blank.txt")
    #expect(throws: CorpusError.emptyCorpus(sources: [blank], split: .train, documents: 0)) { try firstBatch([blank]) }
    let truncated = Fixture.path("truncated.txt.gz")
    #expect(throws: CorpusError.truncatedGzip(path: truncated)) { try firstBatch([Fixture.path("folder/a.txt"), truncated]) }
    let notGzip = Fixture.path("not-gzip.gz")
    #expect(throws: CorpusError.corruptGzip(path: notGzip, detail: "incorrect header check")) { try firstBatch([notGzip]) }
    for error in [CorpusError.missingFile(path: missing), .noTextFiles(folder: noText), .truncatedGzip(path: truncated),
                  .globMatchedNothing(pattern: glob), .emptyCorpus(sources: [blank], split: .train, documents: 0)] {
        #expect(error.description.contains(Fixture.folder.path))
    }
}

@Test("invalid UTF-8 is replaced, counted and located, not fatal", arguments: [CorpusMode.lines, .documents])
func invalidUTF8IsReported(mode: CorpusMode) throws {
    let path = Fixture.path("invalid-utf8.txt")
    let streamer = try firstBatch([path], mode: mode)
    #expect(streamer.stats.invalidUTF8Lines == 2)
    #expect(streamer.stats.firstInvalidUTF8 == SourceLocation(file: path, line: 3))
    #expect(streamer.stats.documents == (mode == .lines ? 5 : 1))
    let reader = try DocumentReader(path: path, position: .start, mode: .lines)
    var texts: [String] = []
    while try reader.next() { texts.append(reader.decode().text) }
    #expect(texts[2] == "the third has \u{FFFD}\u{FFFD} stray bytes")
    #expect(texts[3] == "café is valid UTF-8")
}

@Test("invalid options are refused", arguments: [
    CorpusOptions(sources: []),
    CorpusOptions(sources: ["x"], maxSeqLength: 2),
    CorpusOptions(sources: ["x"], shuffleBufferSize: -1),
    CorpusOptions(sources: ["x"], validationFraction: 1.5),
])
func invalidOptionsThrow(options: CorpusOptions) {
    #expect(throws: CorpusError.self) { try CorpusStreamer(options: options, tokenizer: ToyTokenizer()) }
}

@Test("a line longer than the cap is cut at a UTF-8 character boundary, the same way after a resume")
func overlongLineIsCut() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("long.txt")
    // 3-byte characters, so the 16 MiB cap falls inside one; the first line makes reads start unaligned.
    let long = String(repeating: "€", count: LineReader.maxLineBytes / 3 + 1000)
    try ("first\n" + long + "\nshort\n").write(to: file, atomically: true, encoding: .utf8)
    func pieces(from position: FilePosition) throws -> [(bytes: [UInt8], number: Int)] {
        let reader = try LineReader(path: file.path, position: position)
        var result: [(bytes: [UInt8], number: Int)] = []
        while let line = try reader.nextLine() { result.append((Array(line.bytes), line.number)) }
        return result
    }
    let straight = try pieces(from: .start)
    #expect(straight.map(\.number) == [1, 2, 2, 3])
    #expect(straight[1].bytes.count == LineReader.maxLineBytes - LineReader.maxLineBytes % 3)
    #expect(straight.allSatisfy { String(validating: $0.bytes, as: UTF8.self) != nil })
    #expect(straight[1].bytes + straight[2].bytes == Array(long.utf8) && straight[3].bytes == Array("short".utf8))
    let resumed = try pieces(from: FilePosition(offset: 6, memberOffset: 0, memberStart: 0, lineNumber: 2))
    #expect(resumed.map(\.bytes) == straight.dropFirst().map(\.bytes))
}
