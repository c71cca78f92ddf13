import Corpus

/// Chooses which tokens of a batch the model predicts, and how they are hidden.
///
/// Deterministic in (seed, epoch, batchIndex): each batch draws from its own generator seeded by a
/// hash of the three, so a resumed run reproduces the masks exactly. With `staticMasking` the epoch is
/// ignored. Strategies are classes that hold their scratch buffers: masking a batch allocates nothing
/// once `out` has the batch's shape. Use one strategy per thread.
public protocol MaskingStrategy: AnyObject {
    var options: MaskingOptions { get }
    var vocabulary: MaskingVocabulary { get }
    func mask(_ batch: TokenBatch, seed: UInt64, epoch: Int, batchIndex: Int, into out: inout MaskedBatch)
}

/// The strategy `options.strategy` names, after validating the options.
public func makeMaskingStrategy(
    _ options: MaskingOptions, vocabulary: MaskingVocabulary
) throws(MaskingError) -> any MaskingStrategy {
    switch options.strategy {
    case .token: try TokenMasking(options: options, vocabulary: vocabulary)
    case .wholeWord: try WholeWordMasking(options: options, vocabulary: vocabulary)
    case .span: try SpanMasking(options: options, vocabulary: vocabulary)
    }
}
