import ArgumentParser
import Classification
import Foundation
import TensorKernels

struct NERCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ner",
        abstract: "Fine-tune a token classifier (BertForTokenClassification) on BIO-tagged CoNLL files.",
        discussion: """
            Example: mlm-adapt ner --train Corpora/tasks/wnut16/train.conll --validation Corpora/tasks/wnut16/dev.conll
            Files hold 'word<TAB>tag' per line and a blank line between sentences. A word's first piece carries its \
            tag; the dev score is entity-level F1 with seqeval's default rules.
            """)

    @OptionGroup var common: FineTuneArguments

    func run() throws {
        let options = try common.runOptions(
            task: "ner", metric: .accuracy, balanced: false, columns: TextColumns(), arguments: CommandLine.arguments)
        let report = try ClassificationRun.run(kind: .token, options: options, progress: .standardError, log: logLine)
        printSummary(report, options: options)
    }
}
