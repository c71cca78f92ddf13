/// Which units are selected for prediction. The raw values are the one spelling, on the command
/// line (`--mask`) and in stored run settings.
public enum MaskingStrategyKind: String, Codable, Sendable, CaseIterable {
    /// Single word pieces (BERT).
    case token
    /// Whole words from `TokenBatch.wordIds`, never partly selected.
    case wholeWord = "whole-word"
    /// Runs of whole words with geometric lengths (SpanBERT).
    case span
}

/// How many tokens a row gets selected.
public enum MaskingBudget: String, Codable, Sendable, CaseIterable {
    /// `round(p · n)` of the row's `n` eligible tokens, at least 1, as Google BERT does.
    case exact
    /// Each token (token masking) or word (whole-word masking) independently with probability `p`,
    /// as HF does; span masking fills a Binomial(n, p) token target.
    case bernoulli
}

/// Everything that decides how a batch is masked. `validate()` rejects nonsense before training starts.
public struct MaskingOptions: Codable, Sendable, Equatable {
    public var strategy: MaskingStrategyKind = .token
    /// Fraction of eligible (non-special, non-padding) tokens selected for prediction.
    public var probability: Double = 0.15
    public var budget: MaskingBudget = .exact
    /// Of the selected units: replaced by `[MASK]`, by a random non-special token, or left unchanged.
    public var maskRatio: Double = 0.8
    public var randomRatio: Double = 0.1
    public var keepRatio: Double = 0.1
    /// Google BERT's behaviour: every piece of a selected word or span draws its own replacement, so a
    /// word can be half revealed. Off by default: all pieces of a word (or span) share one fate.
    public var perPieceReplacement: Bool = false
    /// Hard cap on selected tokens per row (Google used 20 at length 128). `nil`: no cap, so the
    /// realised rate is `probability` itself.
    public var maxPredictionsPerSeq: Int? = nil
    /// Static masking: the same masks every epoch (the epoch is ignored when seeding).
    public var staticMasking: Bool = false
    /// Span lengths in words follow a geometric distribution with this success probability,
    /// truncated to 1...maxSpanLength and renormalised, as SpanBERT does.
    public var spanGeometricP: Double = 0.2
    public var maxSpanLength: Int = 10

    public init(
        strategy: MaskingStrategyKind = .token, probability: Double = 0.15, budget: MaskingBudget = .exact,
        maskRatio: Double = 0.8, randomRatio: Double = 0.1, keepRatio: Double = 0.1,
        perPieceReplacement: Bool = false, maxPredictionsPerSeq: Int? = nil, staticMasking: Bool = false,
        spanGeometricP: Double = 0.2, maxSpanLength: Int = 10
    ) {
        self.strategy = strategy
        self.probability = probability
        self.budget = budget
        self.maskRatio = maskRatio
        self.randomRatio = randomRatio
        self.keepRatio = keepRatio
        self.perPieceReplacement = perPieceReplacement
        self.maxPredictionsPerSeq = maxPredictionsPerSeq
        self.staticMasking = staticMasking
        self.spanGeometricP = spanGeometricP
        self.maxSpanLength = maxSpanLength
    }

    public func validate() throws(MaskingError) {
        func fraction(_ value: Double, _ name: String, allowZero: Bool = true) throws(MaskingError) {
            let low = allowZero ? value >= 0 : value > 0
            guard value.isFinite, low, value <= 1 else {
                throw .invalidOption(name: name, value: "\(value)", reason: allowZero ? "must lie in [0, 1]" : "must lie in (0, 1]")
            }
        }
        try fraction(probability, "probability", allowZero: false)
        try fraction(maskRatio, "maskRatio")
        try fraction(randomRatio, "randomRatio")
        try fraction(keepRatio, "keepRatio")
        let ratioSum = maskRatio + randomRatio + keepRatio
        guard abs(ratioSum - 1) < 1e-6 else {
            throw .invalidOption(
                name: "maskRatio + randomRatio + keepRatio", value: "\(ratioSum)", reason: "must add up to 1")
        }
        if let cap = maxPredictionsPerSeq, cap < 1 {
            throw .invalidOption(name: "maxPredictionsPerSeq", value: "\(cap)", reason: "must be at least 1")
        }
        try fraction(spanGeometricP, "spanGeometricP", allowZero: false)
        guard (1...512).contains(maxSpanLength) else {
            throw .invalidOption(name: "maxSpanLength", value: "\(maxSpanLength)", reason: "must lie in 1...512")
        }
    }

    /// Most tokens one batch can select: the size for the model's masked-token workspace.
    public func maskedTokenCapacity(batchSize: Int, seqLength: Int) -> Int {
        batchSize * min(seqLength, maxPredictionsPerSeq ?? seqLength)
    }

    /// Mean span length in words that `spanGeometricP` and `maxSpanLength` imply (truncated geometric).
    public var expectedSpanLength: Double {
        var weightedSum = 0.0, total = 0.0, weight = spanGeometricP
        for length in 1...max(1, maxSpanLength) {
            weightedSum += Double(length) * weight
            total += weight
            weight *= 1 - spanGeometricP
        }
        return weightedSum / total
    }
}

public enum MaskingError: Error, CustomStringConvertible, Equatable {
    case invalidOption(name: String, value: String, reason: String)
    case invalidVocabulary(String)

    public var description: String {
        switch self {
        case let .invalidOption(name, value, reason): "masking option \(name) = \(value): \(reason)"
        case let .invalidVocabulary(reason): "masking vocabulary: \(reason)"
        }
    }
}
