import ArgumentParser
import TensorKernels

@main
struct MLMAdapt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlm-adapt",
        abstract: "Domain-adaptive continued pretraining of BERT encoders on CPU.",
        // One line per subcommand; each lives in its own file.
        subcommands: [
            Adapt.self,
            FillMask.self,
            TokenizeCommand.self,
            VocabCommand.self,
            ImportCommand.self,
            ExportCommand.self,
            InspectCommand.self,
            ClassifyCommand.self,
            NERCommand.self,
            PredictCommand.self,
            Evaluate.self,
        ],
        defaultSubcommand: Adapt.self
    )

    /// Picks the fastest OpenBLAS kernel (may re-execute the process) before parsing the command line.
    static func main() {
        OpenBLASRuntime.ensureBestKernel()
        main(nil)
    }
}
