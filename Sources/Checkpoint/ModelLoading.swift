import Foundation
import Model
import Tokenizer

/// Where the starting weights of a new adaptation run come from.
public enum ModelSource: Equatable, Sendable, CustomStringConvertible {
    /// Any path `CheckpointReference` accepts.
    case checkpoint(CheckpointReference)
    /// Random BERT initialisation with this vocab.txt and config.json.
    case scratch(vocabulary: URL, config: URL)

    public var description: String {
        switch self {
        case .checkpoint(let reference): return reference.description
        case .scratch(let vocabulary, let config): return "scratch (vocab \(vocabulary.path), config \(config.path))"
        }
    }
}

/// The heads a command puts on the encoder it loads.
public enum HeadSelection: Sendable, Equatable {
    /// BertForMaskedLM (adapt, evaluate, fill-mask). An absent MLM head (sentence-transformers models
    /// ship none) is created as transformers does: BERT init from the seed, decoder tied.
    case maskedLM
    /// A fresh classifier to fine-tune (classify, ner): the source's encoder, a new pooler (when
    /// `pooler`) and classifier; the source's own architectures and labels are dropped.
    case newClassifier(pooler: Bool, labels: Int)
    /// Exactly these heads, all of which the file must hold (resume, predict).
    case exactly(ModelHeads)
    /// The heads the file holds, none created (export).
    case stored
}

/// A BERT model with the vocabulary and casing it was trained with.
public struct PreparedModel {
    public let model: BertModel
    public let vocabulary: Vocabulary
    public let lowercase: Bool
    /// config.json text with `architectures` naming the loaded heads, and vocab.txt text: stored in
    /// every checkpoint so it stands alone.
    public let configJSON: String
    public let vocabularyText: String
    /// What the weight loader did (nothing loaded for a model initialised from scratch).
    public let report: LoadReport
    /// Notes for the user: created heads, converted dtypes, unused tensors.
    public let notes: [String]
    /// The checkpoint it came from, when it did.
    public let checkpoint: LoadedCheckpoint?

    public var tokenizer: WordPieceTokenizer { WordPieceTokenizer(vocabulary: vocabulary, lowercase: lowercase) }
    /// True when the MLM head was absent and created at random (predictions mean nothing).
    public var createdMaskedLMHead: Bool { report.createdMaskedLMHead }
}

/// The one loader behind every command: a `CheckpointReference` (or a checkpoint already opened from
/// one, so a resume reads its file once) becomes a model with the requested heads.
public enum ModelLoading {
    /// `lowercase` overrides the model's own tokenizer setting.
    public static func prepare(_ reference: CheckpointReference, heads: HeadSelection, lowercase: Bool? = nil,
                               seed: UInt64 = 0) throws -> PreparedModel {
        try prepare(reference.open(), heads: heads, lowercase: lowercase, seed: seed)
    }

    public static func prepare(_ checkpoint: LoadedCheckpoint, heads selection: HeadSelection, lowercase: Bool? = nil,
                               seed: UInt64 = 0) throws -> PreparedModel {
        let source = checkpoint.source
        guard var config = checkpoint.config else {
            throw CheckpointError.configMismatch(
                file: source, reason: "no config (neither in the file's metadata nor a config.json beside it)")
        }
        guard let vocabularyText = checkpoint.vocabularyText else {
            throw CheckpointError.vocabMismatch(
                file: source, reason: "no vocabulary (neither in the file's metadata nor a vocab.txt beside it)")
        }
        let vocabulary = try Vocabulary(tokens: vocabularyTokens(fromText: vocabularyText), file: checkpoint.vocabularySource)
        try checkVocabulary(vocabulary, fits: config, source: source)

        let heads: ModelHeads
        let createMissing: Bool
        var configJSON = checkpoint.configJSON
        switch selection {
        case .maskedLM: heads = .maskedLM; createMissing = true
        case .newClassifier(let pooler, let labels):
            heads = ModelHeads(maskedLM: false, pooler: pooler, classifierLabels: labels); createMissing = true
            config.architectures = nil; config.id2label = nil; config.label2id = nil
            configJSON = nil
        case .exactly(let exact): heads = exact; createMissing = false
        case .stored: heads = try checkpoint.inferredLayout().heads; createMissing = false
        }
        let model = BertModel(layout: ParameterLayout(config: config, heads: heads))
        let report = try checkpoint.loadWeights(
            into: model.parameters, layout: model.layout, options: LoadOptions(createMissingHeads: createMissing, seed: seed))
        let stamped = try HFModelFolder.configWithArchitecture(
            configJSON: configJSON, config: config, architecture: HFModelFolder.architecture(for: heads))
        return PreparedModel(
            model: model, vocabulary: vocabulary, lowercase: lowercase ?? checkpoint.doLowerCase ?? true,
            configJSON: stamped, vocabularyText: vocabularyText, report: report,
            notes: notes(report, name: checkpoint.url.lastPathComponent, architecture: HFModelFolder.architecture(for: heads)),
            checkpoint: checkpoint)
    }

    /// A new masked-LM with random BERT initialisation.
    public static func scratch(vocabulary vocabularyURL: URL, config configURL: URL, lowercase: Bool?, seed: UInt64)
        throws -> PreparedModel
    {
        let config = try BertConfig.load(from: configURL)
        let vocabulary = try Vocabulary(contentsOf: vocabularyURL)
        try checkVocabulary(vocabulary, fits: config, source: configURL.path)
        let model = BertModel(layout: ParameterLayout(config: config, heads: .maskedLM))
        model.initializeWeights(seed: seed)
        let vocabularyText = vocabulary.tokens.joined(separator: "\n") + "\n"
        let configJSON = try HFModelFolder.configWithArchitecture(
            configJSON: nil, config: config, architecture: HFModelFolder.architecture(for: .maskedLM))
        return PreparedModel(
            model: model, vocabulary: vocabulary, lowercase: lowercase ?? true, configJSON: configJSON,
            vocabularyText: vocabularyText, report: LoadReport(source: "scratch"), notes: ["initialised from scratch (seed \(seed))"], checkpoint: nil)
    }

    /// A new adaptation run's masked-LM.
    public static func prepare(_ source: ModelSource, lowercase: Bool?, seed: UInt64) throws -> PreparedModel {
        switch source {
        case .scratch(let vocabulary, let config):
            return try scratch(vocabulary: vocabulary, config: config, lowercase: lowercase, seed: seed)
        case .checkpoint(let reference):
            return try prepare(reference, heads: .maskedLM, lowercase: lowercase, seed: seed)
        }
    }

    static func notes(_ report: LoadReport, name: String, architecture: String) -> [String] {
        var notes = report.warnings
        if report.createdMaskedLMHead {
            notes.append("\(name) has no MLM head (cls.predictions.*): created one with BERT "
                + "initialisation, decoder tied to the word embeddings")
        } else if !report.initialized.isEmpty {
            notes.append("initialised (absent from \(name)): \(report.initialized.joined(separator: ", "))")
        }
        if !report.unused.isEmpty {
            let shown = report.unused.prefix(3).joined(separator: ", ") + (report.unused.count > 3 ? ", …" : "")
            notes.append("not used by \(architecture): \(report.unused.count) tensor(s) (\(shown))")
        }
        if !report.convertedDTypes.isEmpty {
            notes.append("converted to F32: " + report.convertedDTypes.sorted { $0.key < $1.key }
                .map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        }
        return notes
    }

    static func checkVocabulary(_ vocabulary: Vocabulary, fits config: BertConfig, source: String) throws {
        guard vocabulary.count <= config.vocabSize else {
            throw CheckpointError.vocabMismatch(
                file: source, reason: "the vocabulary has \(vocabulary.count) tokens but vocab_size is \(config.vocabSize)")
        }
    }
}
