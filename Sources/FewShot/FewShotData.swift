import Classification
import Foundation

/// Errors of a SetFit run's data and settings; each names the file and line, or the option, at fault.
public struct FewShotError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The training set of a few-shot run: the few-shot subset drawn from a larger file, and the checks
/// that pair generation needs.
public enum FewShotData {
    /// `perClass` examples of every class, as `setfit.sample_dataset`: the whole set in a seeded random
    /// order, then the first `perClass` of each class in that order. Returned in file order. Unlike setfit
    /// (which silently keeps a smaller class whole), a class with fewer examples is an error.
    public static func sample(_ examples: [TextExample], perClass: Int, seed: UInt64, path: String) throws -> [TextExample] {
        guard perClass > 0 else { throw FewShotError("--samples-per-class must be positive, not \(perClass)") }
        let counts = classCounts(examples)
        for (label, count) in counts.sorted(by: { $0.key < $1.key }) where count < perClass {
            throw FewShotError(
                "\(path): --samples-per-class \(perClass) is larger than class '\(label)', which has \(count) example\(count == 1 ? "" : "s")")
        }
        var order = Array(examples.indices)
        var shuffle = SeededShuffle(seed: seed)
        shuffle.shuffle(&order)
        var taken: [String: Int] = [:]
        var kept: [Int] = []
        for index in order {
            let label = examples[index].label ?? ""
            if taken[label, default: 0] < perClass {
                taken[label, default: 0] += 1
                kept.append(index)
            }
        }
        return kept.sorted().map { examples[$0] }
    }

    /// Refuses what contrastive pairs cannot be made from: an empty text, a single class, a class with
    /// fewer than 2 examples (no positive pair of two different texts).
    public static func validateTraining(_ examples: [TextExample], path: String) throws {
        try validateTexts(examples, path: path)
        let counts = classCounts(examples)
        guard counts.count >= 2 else {
            throw FewShotError(
                "\(path): every example has the label '\(counts.keys.first ?? "")'; SetFit needs at least 2 classes (negative pairs)")
        }
        for (label, count) in counts.sorted(by: { $0.key < $1.key }) where count < 2 {
            let line = examples.first { $0.label == label }?.line ?? 0
            throw FewShotError(
                "\(path):\(line): class '\(label)' has only this one example; SetFit needs at least 2 per class (a positive pair)")
        }
    }

    /// An empty (or whitespace-only) text is an error naming its line.
    public static func validateTexts(_ examples: [TextExample], path: String) throws {
        if let empty = examples.first(where: { $0.text.allSatisfy(\.isWhitespace) }) {
            throw FewShotError("\(path):\(empty.line): empty text")
        }
    }

    static func classCounts(_ examples: [TextExample]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for example in examples { counts[example.label ?? "", default: 0] += 1 }
        return counts
    }
}
