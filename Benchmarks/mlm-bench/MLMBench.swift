import ArgumentParser
import TensorKernels

@main
struct MLMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlm-bench",
        abstract: "Release-build benchmarks, measured beside the reference libraries when installed.",
        // One line per benchmark; each lives in its own file.
        subcommands: [
            TokenizerBenchmark.self,
            CheckpointBenchmark.self,
            MaskingBenchmark.self,
            CorpusStreamBenchmark.self,
            MaskingStrategiesBenchmark.self,
            AdaptationStudyBenchmark.self,
            AllBenchmark.self,
            TrainStepBenchmark.self,
            FineTuneBenchmark.self,
            SetFitBenchmark.self,
            EmbedBenchmark.self,
            DataParallelBenchmark.self,
        ]
    )

    /// Picks the fastest OpenBLAS kernel (may re-execute the process) before parsing the command line.
    static func main() {
        OpenBLASRuntime.ensureBestKernel(verbose: true)
        main(nil)
    }
}
