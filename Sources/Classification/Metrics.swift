/// Precision, recall and F1 of one class (or entity type); `support` counts its gold items.
public struct ClassScore: Codable, Equatable, Sendable {
    public var label: String
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var support: Int
    public var predicted: Int

    /// Scores from counts; a ratio with a zero denominator is 0, as sklearn's and seqeval's `zero_division` default.
    public init(label: String, truePositives: Int, predicted: Int, support: Int) {
        self.label = label
        self.support = support
        self.predicted = predicted
        precision = predicted == 0 ? 0 : Double(truePositives) / Double(predicted)
        recall = support == 0 ? 0 : Double(truePositives) / Double(support)
        f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
    }
}

/// Metrics of single-label classification.
public struct ClassificationMetrics: Codable, Equatable, Sendable {
    public var accuracy: Double
    /// Unweighted mean of the per-class F1 over the classes that occur in the gold or the predicted labels
    /// (sklearn's `f1_score(average="macro")` with its default `labels`).
    public var macroF1: Double
    public var perClass: [ClassScore]
    /// `confusion[gold][predicted]`, in label-id order.
    public var confusion: [[Int]]
    public var count: Int

    public init(gold: [Int32], predicted: [Int32], labels: LabelSet) {
        precondition(gold.count == predicted.count, "gold and predicted differ in length")
        let k = labels.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var correct = 0
        for (g, p) in zip(gold, predicted) {
            confusion[Int(g)][Int(p)] += 1
            if g == p { correct += 1 }
        }
        var perClass: [ClassScore] = []
        var f1Sum = 0.0, present = 0
        for c in 0..<k {
            let support = confusion[c].reduce(0, +)
            let predictedCount = (0..<k).reduce(0) { $0 + confusion[$1][c] }
            let score = ClassScore(
                label: labels.names[c], truePositives: confusion[c][c], predicted: predictedCount, support: support)
            perClass.append(score)
            if support > 0 || predictedCount > 0 { f1Sum += score.f1; present += 1 }
        }
        self.accuracy = gold.isEmpty ? 0 : Double(correct) / Double(gold.count)
        self.macroF1 = present == 0 ? 0 : f1Sum / Double(present)
        self.perClass = perClass
        self.confusion = confusion
        self.count = gold.count
    }
}

/// One entity span: its type and the first and last word index, within sentence `sentence`.
public struct EntitySpan: Hashable, Codable, Sendable {
    public var type: String
    public var sentence: Int
    public var start: Int
    public var end: Int
}

/// Entity-level metrics with seqeval's default (non-strict, conlleval-like) rules: a chunk starts at
/// B-, at an I- or E- after O or after another type, and at S-; an I- that follows O therefore opens a
/// new entity instead of being dropped.
public struct EntityMetrics: Codable, Equatable, Sendable {
    /// Micro-averaged over all entities (seqeval's `precision_score`/`recall_score`/`f1_score` default).
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// Mean of the per-type F1 (seqeval's `average="macro"`).
    public var macroF1: Double
    public var perType: [ClassScore]
    /// Token accuracy over labelled words.
    public var tokenAccuracy: Double

    public init(gold: [[String]], predicted: [[String]]) {
        precondition(gold.count == predicted.count, "gold and predicted differ in sentence count")
        var goldSpans = Set<EntitySpan>(), predictedSpans = Set<EntitySpan>()
        var correctTags = 0, tagCount = 0
        for (index, (g, p)) in zip(gold, predicted).enumerated() {
            goldSpans.formUnion(Self.entities(in: g, sentence: index))
            predictedSpans.formUnion(Self.entities(in: p, sentence: index))
            for (a, b) in zip(g, p) where a == b { correctTags += 1 }
            tagCount += g.count
        }
        let types = Set(goldSpans.map(\.type)).union(predictedSpans.map(\.type)).sorted()
        let correctSpans = goldSpans.intersection(predictedSpans)
        perType = types.map { type in
            ClassScore(
                label: type, truePositives: correctSpans.count { $0.type == type },
                predicted: predictedSpans.count { $0.type == type }, support: goldSpans.count { $0.type == type })
        }
        let overall = ClassScore(
            label: "micro", truePositives: correctSpans.count, predicted: predictedSpans.count, support: goldSpans.count)
        precision = overall.precision
        recall = overall.recall
        f1 = overall.f1
        macroF1 = perType.isEmpty ? 0 : perType.map(\.f1).reduce(0, +) / Double(perType.count)
        tokenAccuracy = tagCount == 0 ? 0 : Double(correctTags) / Double(tagCount)
    }

    /// The chunks of one tag sequence, by seqeval's `get_entities` (prefix scheme): the tag is the first
    /// character, the type what follows its first `-` (`_` when empty).
    public static func entities(in tags: [String], sentence: Int = 0) -> [EntitySpan] {
        var spans: [EntitySpan] = []
        var previousTag: Character = "O", previousType = ""
        var begin = 0
        for index in 0...tags.count {
            let (tag, type) = index < tags.count ? split(tags[index]) : ("O", "_")
            if endsChunk(previousTag, tag, previousType, type) {
                spans.append(EntitySpan(type: previousType, sentence: sentence, start: begin, end: index - 1))
            }
            if startsChunk(previousTag, tag, previousType, type) { begin = index }
            previousTag = tag
            previousType = type
        }
        return spans
    }

    static func split(_ chunk: String) -> (Character, String) {
        guard let tag = chunk.first else { return ("O", "_") }
        let rest = chunk.dropFirst()
        let type = rest.firstIndex(of: "-").map { rest[rest.index(after: $0)...] } ?? rest
        return (tag, type.isEmpty ? "_" : String(type))
    }

    static func endsChunk(_ previousTag: Character, _ tag: Character, _ previousType: String, _ type: String) -> Bool {
        switch (previousTag, tag) {
        case ("E", _), ("S", _): return true
        case ("B", "B"), ("B", "S"), ("B", "O"), ("I", "B"), ("I", "S"), ("I", "O"): return true
        default: return previousTag != "O" && previousTag != "." && previousType != type
        }
    }

    static func startsChunk(_ previousTag: Character, _ tag: Character, _ previousType: String, _ type: String) -> Bool {
        switch (previousTag, tag) {
        case (_, "B"), (_, "S"): return true
        case ("E", "E"), ("E", "I"), ("S", "E"), ("S", "I"), ("O", "E"), ("O", "I"): return true
        default: return tag != "O" && tag != "." && previousType != type
        }
    }
}
