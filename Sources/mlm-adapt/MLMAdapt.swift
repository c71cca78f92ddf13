import ArgumentParser
import Foundation
import TensorKernels

@main
struct MLMAdapt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlm-adapt",
        abstract: "Domain-adaptive continued pretraining of BERT encoders on CPU.",
        discussion: """
            --verbose (before or after any subcommand) also prints the OpenBLAS kernel choice at start; training \
            commands always write it to their log. Defaults that name repository files (the base model in cache/) \
            are looked up in $MLM_ADAPT_HOME, then in the repository the executable was built in, then in the \
            current directory.
            """,
        version: MLMAdapt.version,
        // One line per subcommand; each lives in its own file.
        subcommands: [
            Adapt.self,
            ReportCommand.self,
            FillMask.self,
            TokenizeCommand.self,
            VocabCommand.self,
            ImportCommand.self,
            ExportCommand.self,
            InspectCommand.self,
            ClassifyCommand.self,
            NERCommand.self,
            SetFitCommand.self,
            EmbedCommand.self,
            PredictCommand.self,
            Evaluate.self,
        ],
        defaultSubcommand: Adapt.self
    )

    static let version = "0.1.0"
    static let verboseFlag = "--verbose"

    /// Picks the fastest OpenBLAS kernel (may re-execute the process) before parsing the command line.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        OpenBLASRuntime.ensureBestKernel(verbose: arguments.contains(verboseFlag))
        let parsed = arguments.filter { $0 != verboseFlag }
        // The default subcommand would take `--version` as one of its own options.
        if parsed == ["--version"] {
            print(version)
            return
        }
        main(parsed)
    }
}

/// A user-facing failure: ArgumentParser prints "Error: <message>" (no usage text) and exits with status 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A log line of a command: standard error, unbuffered, so a redirected log shows it at once.
func logLine(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
