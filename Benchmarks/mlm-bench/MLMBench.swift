import ArgumentParser

@main
struct MLMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlm-bench",
        abstract: "Release-build benchmarks, measured beside the reference libraries when installed.",
        // One line per benchmark; each lives in its own file.
        subcommands: [
        ]
    )
}
