import Checkpoint
import Foundation
import Model
import Tokenizer

/// Where the starting weights come from.
public enum ModelSource: Equatable, Sendable, CustomStringConvertible {
    /// An HF model folder, a `.safetensors` or a `.safetensors.gz` (ours or anyone's).
    case pretrained(URL)
    /// Random BERT initialisation with this vocab.txt and config.json.
    case scratch(vocabulary: URL, config: URL)

    public var description: String {
        switch self {
        case .pretrained(let url): return url.path
        case .scratch(let vocabulary, let config): return "scratch (vocab \(vocabulary.path), config \(config.path))"
        }
    }
}

/// A BERT masked-LM with the vocabulary and casing it was trained with.
public struct PreparedModel {
    public let model: BertModel
    public let vocabulary: Vocabulary
    public let lowercase: Bool
    /// config.json and vocab.txt texts, stored in every checkpoint so it stands alone.
    public let configJSON: String
    public let vocabularyText: String
    /// Notes for the user: created heads, converted dtypes, unused tensors.
    public let notes: [String]
    /// The checkpoint it came from, when it did.
    public let checkpoint: LoadedCheckpoint?

    public var tokenizer: WordPieceTokenizer { WordPieceTokenizer(vocabulary: vocabulary, lowercase: lowercase) }
}

public enum ModelLoading {
    /// Loads (or initialises) a masked-LM model. An absent MLM head (sentence-transformers models
    /// ship none) is created as transformers would: BERT init with the decoder tied.
    /// `lowercase` overrides the model's own tokenizer setting.
    public static func prepare(_ source: ModelSource, lowercase: Bool?, seed: UInt64) throws -> PreparedModel {
        switch source {
        case .scratch(let vocabularyURL, let configURL):
            let config = try BertConfig.load(from: configURL)
            let vocabulary = try Vocabulary(contentsOf: vocabularyURL)
            try checkVocabulary(vocabulary, fits: config, source: configURL.path)
            let model = BertModel(layout: ParameterLayout(config: config, heads: .maskedLM))
            model.initializeWeights(seed: seed)
            let vocabularyText = vocabulary.tokens.joined(separator: "\n") + "\n"
            let configJSON = String(decoding: try config.jsonData(), as: UTF8.self)
            return PreparedModel(
                model: model, vocabulary: vocabulary, lowercase: lowercase ?? true, configJSON: configJSON,
                vocabularyText: vocabularyText, notes: ["initialised from scratch (seed \(seed))"], checkpoint: nil)

        case .pretrained(let url):
            let checkpoint = try LoadedCheckpoint.open(url)
            guard let config = checkpoint.config, let configJSON = checkpoint.configJSON else {
                throw TrainingError.data("\(url.path): no config (neither in the file's metadata nor a config.json beside it)")
            }
            guard let vocabularyText = checkpoint.vocabularyText else {
                throw TrainingError.data("\(url.path): no vocabulary (neither in the file's metadata nor a vocab.txt beside it)")
            }
            let vocabulary = try Vocabulary(tokens: vocabularyTokens(fromText: vocabularyText))
            try checkVocabulary(vocabulary, fits: config, source: url.path)
            let model = BertModel(layout: ParameterLayout(config: config, heads: .maskedLM))
            let report = try checkpoint.loadWeights(
                into: model.parameters, layout: model.layout,
                options: LoadOptions(createMissingHeads: true, seed: seed))
            var notes = report.warnings
            if report.createdMaskedLMHead {
                notes.append("\(url.lastPathComponent) has no MLM head (cls.predictions.*): created one with BERT "
                    + "initialisation, decoder tied to the word embeddings")
            } else if !report.initialized.isEmpty {
                notes.append("initialised absent tensors: \(report.initialized.joined(separator: ", "))")
            }
            if !report.unused.isEmpty { notes.append("not used by a masked LM: \(report.unused.joined(separator: ", "))") }
            if !report.convertedDTypes.isEmpty {
                notes.append("converted to F32: " + report.convertedDTypes.sorted { $0.key < $1.key }
                    .map { "\($0.value) \($0.key)" }.joined(separator: ", "))
            }
            return PreparedModel(
                model: model, vocabulary: vocabulary, lowercase: lowercase ?? checkpoint.doLowerCase ?? true,
                configJSON: configJSON, vocabularyText: vocabularyText, notes: notes, checkpoint: checkpoint)
        }
    }

    static func checkVocabulary(_ vocabulary: Vocabulary, fits config: BertConfig, source: String) throws {
        guard vocabulary.count <= config.vocabSize else {
            throw TrainingError.data(
                "\(source): the vocabulary has \(vocabulary.count) tokens but vocab_size is \(config.vocabSize)")
        }
    }
}
