import Model

/// The classes of a task, in id order. Built from the training labels, sorted (numerically when
/// every label is an integer) so that the same data always gives the same ids, as HF `run_glue`.
public struct LabelSet: Equatable, Sendable {
    public let names: [String]
    private let idByName: [String: Int]

    public init(names: [String]) throws {
        var index: [String: Int] = [:]
        for (id, name) in names.enumerated() {
            guard index[name] == nil else { throw ClassificationError.invalidArgument("label '\(name)' appears twice") }
            index[name] = id
        }
        guard !names.isEmpty else { throw ClassificationError.invalidArgument("no labels") }
        self.names = names
        self.idByName = index
    }

    /// The sorted distinct labels of `labels`.
    public init(collecting labels: some Sequence<String>) throws {
        let distinct = Set(labels)
        let numeric = distinct.compactMap { Int($0) }
        let sorted = numeric.count == distinct.count
            ? numeric.sorted().map(String.init) : distinct.sorted()
        try self.init(names: sorted)
    }

    /// The labels stored in a fine-tuned checkpoint's `config.json` (`id2label`).
    public init(config: BertConfig, source: String) throws {
        guard let id2label = config.id2label, !id2label.isEmpty else {
            throw ClassificationError.invalidCheckpoint("\(source): config.json has no id2label")
        }
        var names = [String](repeating: "", count: id2label.count)
        for (key, name) in id2label {
            guard let id = Int(key), names.indices.contains(id) else {
                throw ClassificationError.invalidCheckpoint("\(source): id2label key '\(key)' is not an id in 0..<\(id2label.count)")
            }
            names[id] = name
        }
        try self.init(names: names)
    }

    public var count: Int { names.count }

    public func id(of name: String) -> Int? { idByName[name] }

    /// `id2label` as HF writes it in config.json (string keys).
    public var id2label: [String: String] {
        Dictionary(uniqueKeysWithValues: names.enumerated().map { (String($0.offset), $0.element) })
    }

    public var label2id: [String: Int] { idByName }

    /// Ids of `labels`; an unknown one is an error naming where it came from.
    public func ids(of examples: [TextExample], path: String) throws -> [Int32] {
        try examples.map { example in
            guard let label = example.label else {
                throw ClassificationError.invalidData("\(path):\(example.line): no label")
            }
            guard let id = idByName[label] else {
                throw ClassificationError.unknownLabel(
                    "\(path):\(example.line): '\(label)' is not among the training labels (\(names.joined(separator: ", ")))")
            }
            return Int32(id)
        }
    }
}
