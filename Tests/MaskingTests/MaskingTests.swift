import Corpus
import Foundation
import Masking
import Testing
import Tokenizer

private let fixture = MaskingFixture.shared

private func options(
    _ strategy: MaskingStrategyKind, budget: MaskingBudget = .exact, perPiece: Bool = false
) -> MaskingOptions {
    MaskingOptions(strategy: strategy, budget: budget, perPieceReplacement: perPiece)
}

@Test func fixtureHoldsOverHundredThousandEligibleTokens() throws {
    let (observed, stats) = try maskFixture(options(.token))
    #expect(observed.eligible >= 100_000)
    #expect(stats.eligibleTokens == observed.eligible)
    #expect(fixture.batches.last?.rowCount ?? 0 < 32, "the last batch should be short")
}

@Test(arguments: MaskingStrategyKind.allCases)
func exactBudgetSelectsFifteenPercent(strategy: MaskingStrategyKind) throws {
    let (observed, stats) = try maskFixture(options(strategy))
    #expect(observed.violations.isEmpty, "\(observed.violations.prefix(3))")
    #expect(abs(observed.selectionRate - 0.15) <= 0.003, "realised rate \(observed.selectionRate)")
    #expect(stats.selectedTokens == observed.selected)
    #expect(stats.eligibleTokens == observed.eligible)
}

@Test func exactTokenBudgetIsRoundedPerRow() throws {
    let (observed, _) = try maskFixture(options(.token))
    for (selected, eligible) in zip(observed.selectedPerRow, observed.eligiblePerRow) {
        let target = eligible == 0 ? 0 : max(1, Int((0.15 * Double(eligible)).rounded()))
        #expect(selected == target)
    }
}

@Test func wholeWordRowsLandWithinHalfAWordOfTheirTarget() throws {
    let (observed, _) = try maskFixture(options(.wholeWord))
    var offTarget = 0
    for (selected, eligible) in zip(observed.selectedPerRow, observed.eligiblePerRow) where eligible > 0 {
        let target = max(1, Int((0.15 * Double(eligible)).rounded()))
        // Longest word in the fixture is far below 20 pieces; a row misses only by less than half a word.
        #expect(abs(selected - target) < 10)
        if selected != target { offTarget += 1 }
    }
    #expect(offTarget * 10 < observed.selectedPerRow.count, "\(offTarget) rows off target")
}

@Test(arguments: [
    options(.token), options(.wholeWord), options(.span), options(.wholeWord, perPiece: true),
    options(.span, perPiece: true),
])
func replacementsFollowEightyTenTen(options: MaskingOptions) throws {
    // Span and whole-word masking decide per word or span, so more epochs give enough decisions.
    let (observed, stats) = try maskFixture(options, epochs: 0..<(options.strategy == .token ? 1 : 4))
    #expect(observed.violations.isEmpty, "\(observed.violations.prefix(3))")
    let maskShare = observed.fraction(observed.masked)
    let keepShare = observed.fraction(observed.kept)
    let randomShare = observed.fraction(observed.random)
    #expect(abs(maskShare - 0.8) <= 0.01, "mask \(maskShare)")
    #expect(abs(randomShare - 0.1) <= 0.01, "random \(randomShare)")
    #expect(abs(keepShare - 0.1) <= 0.01, "keep \(keepShare)")
    // A random draw may hit the original id (about 1 in 29k), which the outputs read as kept.
    #expect(abs(stats.randomTokens - observed.random) <= 3)
    #expect(stats.maskTokens == observed.masked)
}

@Test func configuredRatiosAreHonoured() throws {
    var custom = options(.token)
    (custom.maskRatio, custom.randomRatio, custom.keepRatio) = (0.5, 0.3, 0.2)
    let (observed, _) = try maskFixture(custom, epochs: 0..<2)
    #expect(abs(observed.fraction(observed.masked) - 0.5) <= 0.01)
    #expect(abs(observed.fraction(observed.random) - 0.3) <= 0.01)
    #expect(abs(observed.fraction(observed.kept) - 0.2) <= 0.01)
}

@Test(arguments: [MaskingStrategyKind.wholeWord, .span])
func wordsAreNeverPartlySelected(strategy: MaskingStrategyKind) throws {
    for budget in MaskingBudget.allCases {
        let (observed, stats) = try maskFixture(options(strategy, budget: budget))
        #expect(observed.partlySelectedWords == 0)
        #expect(stats.partlySelectedWords == 0)
        // Default: every piece of a word shares one fate.
        #expect(observed.mixedWords == 0)
    }
}

@Test func tokenMaskingDoesPartlySelectWords() throws {
    // The contrast that shows the whole-word check above can fail.
    let (observed, _) = try maskFixture(options(.token))
    #expect(observed.partlySelectedWords > 100)
}

@Test func perPieceReplacementRevealsPartsOfWords() throws {
    let (observed, stats) = try maskFixture(options(.wholeWord, perPiece: true))
    #expect(observed.partlySelectedWords == 0)
    #expect(observed.mixedWords > 50)
    #expect(stats.mixedReplacementWords == observed.mixedWords)
}

@Test(arguments: MaskingStrategyKind.allCases)
func specialTokensPaddingAndBadReplacementsNeverOccur(strategy: MaskingStrategyKind) throws {
    for budget in MaskingBudget.allCases {
        var heavy = options(strategy, budget: budget)
        // Many random replacements over a high rate make a stray special id likely if one could occur.
        (heavy.probability, heavy.maskRatio, heavy.randomRatio, heavy.keepRatio) = (0.5, 0, 1, 0)
        let (observed, _) = try maskFixture(heavy)
        #expect(observed.violations.isEmpty, "\(observed.violations.prefix(3))")
        #expect(observed.random > 20_000)
    }
}

@Test(arguments: MaskingStrategyKind.allCases)
func masksAreDeterministicPerSeedEpochAndBatch(strategy: MaskingStrategyKind) throws {
    let batch = fixture.batches[3]
    func masked(_ options: MaskingOptions, seed: UInt64, epoch: Int, batchIndex: Int) throws -> [Int32] {
        // A fresh strategy each time: nothing may leak from earlier batches.
        let strategy = try makeMaskingStrategy(options, vocabulary: fixture.vocabulary)
        var out = MaskedBatch(batchSize: 32, seqLength: 128)
        strategy.mask(batch, seed: seed, epoch: epoch, batchIndex: batchIndex, into: &out)
        return out.inputIds + out.labels
    }
    let dynamic = options(strategy)
    let reference = try masked(dynamic, seed: 7, epoch: 2, batchIndex: 3)
    #expect(try masked(dynamic, seed: 7, epoch: 2, batchIndex: 3) == reference)
    #expect(try masked(dynamic, seed: 7, epoch: 3, batchIndex: 3) != reference)
    #expect(try masked(dynamic, seed: 8, epoch: 2, batchIndex: 3) != reference)
    #expect(try masked(dynamic, seed: 7, epoch: 2, batchIndex: 4) != reference)

    var fixed = dynamic
    fixed.staticMasking = true
    let staticReference = try masked(fixed, seed: 7, epoch: 0, batchIndex: 3)
    #expect(try masked(fixed, seed: 7, epoch: 5, batchIndex: 3) == staticReference)
    #expect(try masked(fixed, seed: 7, epoch: 5, batchIndex: 4) != staticReference)

    // Reusing one strategy and one output across batches gives the same result as fresh ones.
    let strategyObject = try makeMaskingStrategy(dynamic, vocabulary: fixture.vocabulary)
    var out = MaskedBatch(batchSize: 32, seqLength: 128)
    strategyObject.mask(fixture.batches[0], seed: 7, epoch: 2, batchIndex: 0, into: &out)
    strategyObject.mask(batch, seed: 7, epoch: 2, batchIndex: 3, into: &out)
    #expect(out.inputIds + out.labels == reference)
}

@Test func spanLengthsFollowTheTruncatedGeometric() throws {
    let spans = options(.span)
    // Closed form of the mean of a geometric(p) truncated to 1...L and renormalised.
    let p = spans.spanGeometricP, q = 1 - p, limit = Double(spans.maxSpanLength)
    let expected = 1 / p - limit * pow(q, limit) / (1 - pow(q, limit))
    #expect(abs(spans.expectedSpanLength - expected) < 1e-12)
    #expect(abs(expected - 3.797) < 0.001)

    let (_, stats) = try maskFixture(spans, epochs: 0..<3)
    #expect(stats.spanWords == stats.selectedWords)
    let mean = stats.meanSpanWords
    #expect(abs(mean / expected - 1) < 0.05, "mean span \(mean) words, expected \(expected)")
}

@Test func spanLengthsAreClippedToTheMaximum() throws {
    var short = options(.span)
    (short.spanGeometricP, short.maxSpanLength) = (0.05, 3)
    let (_, stats) = try maskFixture(short)
    // Nearly uniform on 1...3 (mean 1.97); unclipped, the mean would be near 20.
    #expect(abs(stats.meanSpanWords / short.expectedSpanLength - 1) < 0.05, "mean \(stats.meanSpanWords) words")
}

@Test(arguments: MaskingStrategyKind.allCases)
func bernoulliBudgetMeanRateIsP(strategy: MaskingStrategyKind) throws {
    let (observed, _) = try maskFixture(options(strategy, budget: .bernoulli))
    #expect(observed.violations.isEmpty, "\(observed.violations.prefix(3))")
    #expect(abs(observed.selectionRate - 0.15) <= 0.004, "realised rate \(observed.selectionRate)")
    // Unlike the exact budget, per-row counts spread out (binomially for token masking).
    let rates = zip(observed.selectedPerRow, observed.eligiblePerRow).filter { $0.1 > 64 }
        .map { Double($0.0) / Double($0.1) }
    let mean = rates.reduce(0, +) / Double(rates.count)
    let spread = (rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rates.count)).squareRoot()
    #expect(spread > 0.015, "per-row rate spread \(spread)")
}

@Test(arguments: MaskingStrategyKind.allCases)
func perRowCapIsNeverExceeded(strategy: MaskingStrategyKind) throws {
    for budget in MaskingBudget.allCases {
        var capped = options(strategy, budget: budget)
        capped.maxPredictionsPerSeq = 5
        let (observed, _) = try maskFixture(capped)
        #expect(observed.selectedPerRow.max() ?? 0 <= 5)
        #expect(observed.selectedPerRow.max() == 5)
    }
}

@Test(arguments: [
    ("probability", MaskingOptions(probability: 0)),
    ("probability", MaskingOptions(probability: 1.5)),
    ("probability", MaskingOptions(probability: .nan)),
    ("maskRatio", MaskingOptions(maskRatio: -0.1, randomRatio: 0.6, keepRatio: 0.5)),
    ("maskRatio + randomRatio + keepRatio", MaskingOptions(maskRatio: 0.8, randomRatio: 0.1, keepRatio: 0.2)),
    ("maxPredictionsPerSeq", MaskingOptions(maxPredictionsPerSeq: 0)),
    ("spanGeometricP", MaskingOptions(spanGeometricP: 0)),
    ("maxSpanLength", MaskingOptions(maxSpanLength: 0)),
])
func nonsenseOptionsAreRejected(name: String, options: MaskingOptions) {
    #expect {
        _ = try makeMaskingStrategy(options, vocabulary: fixture.vocabulary)
    } throws: { error in
        guard case let .invalidOption(badName, _, _) = error as? MaskingError else { return false }
        return badName == name
    }
}

@Test func badVocabulariesAreRejected() {
    #expect(throws: MaskingError.self) { try MaskingVocabulary(size: 10, maskId: 10, specialIds: []) }
    #expect(throws: MaskingError.self) { try MaskingVocabulary(size: 3, maskId: 2, specialIds: [0, 1]) }
    #expect(throws: MaskingError.self) { try MaskingVocabulary(size: 0, maskId: 0, specialIds: []) }
    #expect(fixture.vocabulary.replacementIds.count == fixture.metadata.vocabSize - fixture.specialIds.count)
}

@Test func maskedBatchFollowsTheBatchShape() throws {
    let strategy = try makeMaskingStrategy(options(.wholeWord), vocabulary: fixture.vocabulary)
    var out = MaskedBatch(batchSize: 4, seqLength: 16)
    let batch = fixture.batches[0]
    strategy.mask(batch, seed: 1, epoch: 0, batchIndex: 0, into: &out)
    #expect(out.batchSize == 32 && out.seqLength == 128 && out.inputIds.count == 32 * 128)
    let observed = ObservedMasking(batch: batch, masked: out, maskId: fixture.metadata.maskId, specialIds: fixture.specialIds)
    #expect(observed.violations.isEmpty)
    #expect(MaskingOptions().maskedTokenCapacity(batchSize: 32, seqLength: 128) == 4096)
    var capped = options(.token)
    capped.maxPredictionsPerSeq = 20
    #expect(capped.maskedTokenCapacity(batchSize: 32, seqLength: 128) == 640)
}

@Test func vocabularyFromWordPieceExcludesBracketTokens() throws {
    let tokens = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "court", "##s", "[", "]"]
    let vocabulary = try MaskingVocabulary(Vocabulary(tokens: tokens))
    #expect(vocabulary.maskId == 5)
    #expect(vocabulary.size == tokens.count)
    #expect(vocabulary.replacementIds == [6, 7, 8, 9, 10])
}

/// Rows of `length` columns cut from the fixture (two fixture rows joined when longer than 128), so
/// the 8- and 64-column block code meets ragged ends and words that cross block boundaries.
private func reshapedBatch(length: Int, rows: Int) -> TokenBatch {
    let source = fixture.metadata.seqLength
    var batch = TokenBatch(batchSize: rows, seqLength: length, padId: fixture.metadata.padId)
    batch.rowCount = rows
    for row in 0..<rows {
        var wordOffset: Int32 = 0
        for column in 0..<length {
            let sourceRow = (row * 2 + column / source) % fixture.metadata.rows
            let index = sourceRow * source + column % source
            if column % source == 0 && column > 0 { wordOffset = 1000 }
            let id = fixture.inputIds[index]
            let word = fixture.wordIds[index]
            let target = row * length + column
            batch.inputIds[target] = id
            batch.wordIds[target] = word < 0 ? -1 : word + wordOffset
            batch.attentionMask[target] = id == fixture.metadata.padId ? 0 : 1
            let special = id == fixture.metadata.padId || id == fixture.metadata.clsId || id == fixture.metadata.sepId
            batch.specialTokensMask[target] = special ? 1 : 0
        }
    }
    return batch
}

@Test(arguments: [5, 13, 70, 200])
func raggedRowLengthsKeepEveryGuarantee(length: Int) throws {
    let batch = reshapedBatch(length: length, rows: 24)
    for strategy in MaskingStrategyKind.allCases {
        for budget in MaskingBudget.allCases {
            let masking = try makeMaskingStrategy(options(strategy, budget: budget), vocabulary: fixture.vocabulary)
            var out = MaskedBatch(batchSize: 24, seqLength: length)
            var observed = ObservedMasking()
            for epoch in 0..<4 {
                masking.mask(batch, seed: 3, epoch: epoch, batchIndex: 0, into: &out)
                observed += ObservedMasking(
                    batch: batch, masked: out, maskId: fixture.metadata.maskId, specialIds: fixture.specialIds)
            }
            #expect(observed.violations.isEmpty, "\(strategy) \(budget): \(observed.violations.prefix(3))")
            if strategy != .token { #expect(observed.partlySelectedWords == 0, "\(strategy) \(budget)") }
            if budget == .exact && strategy == .token {
                for (selected, eligible) in zip(observed.selectedPerRow, observed.eligiblePerRow) {
                    #expect(selected == (eligible == 0 ? 0 : max(1, Int((0.15 * Double(eligible)).rounded()))))
                }
            }
        }
    }
}

@Test(arguments: MaskingStrategyKind.allCases)
func probabilityOneSelectsEveryEligibleToken(strategy: MaskingStrategyKind) throws {
    for budget in MaskingBudget.allCases {
        var everything = options(strategy, budget: budget)
        everything.probability = 1
        let (observed, _) = try maskFixture(everything)
        #expect(observed.violations.isEmpty)
        #expect(observed.selected == observed.eligible, "\(strategy) \(budget)")
    }
}

@Test func rowsWithoutEligibleTokensAreLeftAlone() throws {
    var batch = TokenBatch(batchSize: 3, seqLength: 16, padId: fixture.metadata.padId)
    batch.rowCount = 3
    // Row 0: [CLS] [SEP] and padding. Row 1: a single word piece. Row 2: all padding.
    batch.inputIds[0] = fixture.metadata.clsId
    batch.inputIds[1] = fixture.metadata.sepId
    for column in 0..<2 { batch.attentionMask[column] = 1 }
    batch.inputIds[16] = fixture.metadata.clsId
    batch.inputIds[17] = 2_000
    batch.inputIds[18] = fixture.metadata.sepId
    for column in 16..<19 { batch.attentionMask[column] = 1 }
    batch.specialTokensMask[17] = 0
    batch.wordIds[17] = 0
    for strategy in MaskingStrategyKind.allCases {
        let masking = try makeMaskingStrategy(options(strategy), vocabulary: fixture.vocabulary)
        var out = MaskedBatch(batchSize: 3, seqLength: 16)
        masking.mask(batch, seed: 1, epoch: 0, batchIndex: 0, into: &out)
        #expect(out.maskedPositions == [17], "\(strategy)")
        #expect(out.maskedLabels == [2_000])
        #expect(out.stats.eligibleTokens == 1)
    }
}
