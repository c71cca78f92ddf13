/// One example as the model sees it: token ids with `[CLS]`/`[SEP]`, and its target.
public struct EncodedExample: Sendable {
    public var ids: [Int32]
    public var typeIds: [Int32]
    /// The class id of a sequence-classification example (-100 when unlabelled).
    public var label: Int32
    /// Per token, the tag id of a word's first piece, -100 on other pieces and specials (token classification).
    public var tokenLabels: [Int32]
    /// Per token, the index of the word it belongs to, -1 for specials (token classification).
    public var wordIds: [Int32]
    /// Words in the sentence, including any cut off by `maxLength` (token classification).
    public var wordCount: Int
    /// Whether tokens were cut to fit `maxLength`.
    public var truncated: Bool
}
