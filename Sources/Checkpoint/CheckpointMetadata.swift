import Foundation

/// The `__metadata__` map of our checkpoints (every value a string, as safetensors requires).
/// `format` stays `"pt"` so the gunzipped file is an ordinary HF safetensors file (transformers
/// 4.x refuses other values); our own format name and version live in `checkpoint_format`.
public struct CheckpointMetadata: Sendable, Equatable {
    public static let formatName = "mlm-adapt-checkpoint"
    public static let formatVersion = 1
    public static var currentFormat: String { "\(formatName)/\(formatVersion)" }

    enum Key {
        static let hfFormat = "format", checkpointFormat = "checkpoint_format", config = "config", vocab = "vocab"
        static let doLowerCase = "do_lower_case", runArgs = "run_args", step = "step", dataCursor = "data_cursor"
        static let rngState = "rng_state", metrics = "metrics"
        static let all: Set<String> = [
            hfFormat, checkpointFormat, config, vocab, doLowerCase, runArgs, step, dataCursor, rngState, metrics,
        ]
    }

    /// `mlm-adapt-checkpoint/1`; nil for files written by other tools.
    public var checkpointFormat: String?
    /// HF config.json text.
    public var configJSON: String?
    /// vocab.txt text, embedded so a checkpoint is self-contained (ARCHITECTURE.md gives the size).
    public var vocabularyText: String?
    public var doLowerCase: Bool?
    /// Command-line arguments of the run, as JSON.
    public var runArgumentsJSON: String?
    public var step: Int?
    /// The corpus streamer's resume cursor, as JSON.
    public var dataCursorJSON: String?
    public var rngState: String?
    /// Latest metrics, as JSON.
    public var metricsJSON: String?
    /// Keys we do not know, kept so that a round trip loses nothing.
    public var extra: [String: String]

    public init(
        configJSON: String? = nil, vocabularyText: String? = nil, doLowerCase: Bool? = nil,
        runArgumentsJSON: String? = nil, step: Int? = nil, dataCursorJSON: String? = nil, rngState: String? = nil,
        metricsJSON: String? = nil
    ) {
        checkpointFormat = Self.currentFormat
        self.configJSON = configJSON; self.vocabularyText = vocabularyText; self.doLowerCase = doLowerCase
        self.runArgumentsJSON = runArgumentsJSON; self.step = step; self.dataCursorJSON = dataCursorJSON
        self.rngState = rngState; self.metricsJSON = metricsJSON
        extra = [:]
    }

    /// Reads the map of any safetensors file; refuses a newer version of our own format.
    public init(dictionary: [String: String], source: String) throws {
        checkpointFormat = dictionary[Key.checkpointFormat]
        if let format = checkpointFormat {
            let parts = format.split(separator: "/")
            guard parts.count == 2, parts[0] == Self.formatName, let version = Int(parts[1]) else {
                throw CheckpointError.invalidHeader(file: source, reason: "unknown checkpoint_format '\(format)'")
            }
            guard version <= Self.formatVersion else {
                throw CheckpointError.invalidHeader(
                    file: source,
                    reason: "checkpoint_format version \(version) is newer than this program reads (\(Self.formatVersion))")
            }
        }
        configJSON = dictionary[Key.config]
        vocabularyText = dictionary[Key.vocab]
        doLowerCase = try dictionary[Key.doLowerCase].map { text in
            guard let value = Bool(text) else {
                throw CheckpointError.invalidHeader(file: source, reason: "do_lower_case '\(text)' is not true/false")
            }
            return value
        }
        runArgumentsJSON = dictionary[Key.runArgs]
        step = try dictionary[Key.step].map { text in
            guard let value = Int(text), value >= 0 else {
                throw CheckpointError.invalidHeader(file: source, reason: "step '\(text)' is not a non-negative integer")
            }
            return value
        }
        dataCursorJSON = dictionary[Key.dataCursor]
        rngState = dictionary[Key.rngState]
        metricsJSON = dictionary[Key.metrics]
        extra = dictionary.filter { !Key.all.contains($0.key) && !ContentChecksums.keys.contains($0.key) }
    }

    public func dictionary() -> [String: String] {
        var map = extra
        map[Key.hfFormat] = "pt"
        map[Key.checkpointFormat] = checkpointFormat
        map[Key.config] = configJSON
        map[Key.vocab] = vocabularyText
        map[Key.doLowerCase] = doLowerCase.map { String($0) }
        map[Key.runArgs] = runArgumentsJSON
        map[Key.step] = step.map { String($0) }
        map[Key.dataCursor] = dataCursorJSON
        map[Key.rngState] = rngState
        map[Key.metrics] = metricsJSON
        return map
    }
}

/// vocab.txt lines as HF `load_vocab` reads them: one token per line, the final newline optional.
public func vocabularyTokens(fromText text: String) -> [String] {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
        line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
    }
    if lines.last == "" { lines.removeLast() }
    return lines
}

/// Throws `vocabMismatch` naming the sizes and the first differing token.
public func verifyVocabulary(checkpoint: [String], inUse: [String], source: String) throws {
    if checkpoint == inUse { return }
    var reason = "checkpoint has \(checkpoint.count) tokens, the vocabulary in use has \(inUse.count)"
    if let index = (0..<min(checkpoint.count, inUse.count)).first(where: { checkpoint[$0] != inUse[$0] }) {
        reason += "; first difference at id \(index): '\(checkpoint[index])' vs '\(inUse[index])'"
    } else {
        let shorter = min(checkpoint.count, inUse.count)
        reason += "; identical up to id \(shorter - 1), then one list ends"
    }
    throw CheckpointError.vocabMismatch(file: source, reason: reason)
}
