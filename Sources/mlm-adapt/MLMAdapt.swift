import ArgumentParser

@main
struct MLMAdapt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlm-adapt",
        abstract: "Domain-adaptive continued pretraining of BERT encoders on CPU.",
        // One line per subcommand; each lives in its own file.
        subcommands: [
        ]
    )
}
