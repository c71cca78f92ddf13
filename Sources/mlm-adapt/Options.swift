import ArgumentParser
import DataParallel
import Foundation
import Masking
import Optimization
import TensorKernels

// Option groups and argument types shared by the commands. The enums' raw values are their one
// spelling, on the command line and in stored settings.

extension MaskingStrategyKind: ExpressibleByArgument {}
extension MaskingBudget: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}

extension Warmup: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// Fine-tuning runs in one process: under mpirun each rank would train alone and race for the run folder.
func refuseDataParallel(_ command: String) throws {
    switch Launch.detect() {
    case .single: return
    case .mpirun(let variable, _), .otherLauncher(let variable):
        throw CommandError("\(command) runs in one process; data-parallel training under mpirun (\(variable) is set) "
            + "is adapt's alone. Run it without mpirun")
    }
}

/// `--threads` and `--precision`: how every command that runs the model runs it.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads for the GEMMs and elementwise kernels (default: all cores, \(RuntimeDefaults.threads) here).")
    var threads: Int?

    @Option(help: "GEMM precision; auto picks bf16 where this build and the CPU support it, else fp32 (default: \(RuntimeDefaults.precision.rawValue)).")
    var precision: Precision?

    var resolvedThreads: Int { threads ?? RuntimeDefaults.threads }

    func validate() throws {
        if let threads, let problem = RuntimeDefaults.threadsProblem(threads) { throw ValidationError(problem) }
        // Only an explicit bf16 can be refused; auto is resolved once the threads are set.
        if precision == .bf16 {
            do { _ = try Precision.bf16.resolved() } catch { throw ValidationError("\(error)") }
        }
    }

    /// Starts a command that runs the model: sets the worker threads (BLAS and TensorKernels), resolves
    /// the precision, and logs the BLAS kernel, the precision, the GEMM backend and oneDNN's implementation
    /// string, as `adapt` opens its run. Hand the result to `BertModel.setPrecision` of every model it runs.
    func start(log: (String) -> Void = logLine) throws -> ResolvedPrecision {
        OpenBLASRuntime.setThreads(resolvedThreads)
        let resolved: ResolvedPrecision
        do { resolved = try (precision ?? RuntimeDefaults.precision).resolved() } catch { throw ValidationError("\(error)") }
        log(OpenBLASRuntime.kernelDescription)
        log(resolved.logLine)
        return resolved
    }
}

/// `--seed`, for the commands that draw random numbers (data order, masking, dropout, head initialisation).
struct SeedOption: ParsableArguments {
    @Option(help: "Seed for data order, masking, dropout and initialisation (default: \(RuntimeDefaults.seed)).")
    var seed: UInt64?

    var resolvedSeed: UInt64 { seed ?? RuntimeDefaults.seed }
}

/// `--cased` / `--uncased`.
enum Casing: String, EnumerableFlag {
    case cased, uncased

    static func help(for value: Casing) -> ArgumentHelp? {
        switch value {
        case .cased: return "Keep case (default: the model's tokenizer setting)."
        case .uncased: return "Lowercase and strip accents (default: the model's tokenizer setting)."
        }
    }

    var lowercase: Bool { self == .uncased }
}

/// `--output-dir PATH` as a folder URL. PATH (or the nearest part of it that exists) must be a folder:
/// an existing file there is refused by name, before the run reads or writes anything.
func outputFolder(_ path: String) throws -> URL {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    var existing = url
    while !FileManager.default.fileExists(atPath: existing.path) && existing.path != "/" {
        existing.deleteLastPathComponent()
    }
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: existing.path, isDirectory: &isFolder), !isFolder.boolValue {
        throw CommandError(existing == url
            ? "--output-dir \(path) is an existing file, not a folder; choose another --output-dir"
            : "--output-dir \(path): \(existing.path) is a file, not a folder; choose another --output-dir")
    }
    return url
}
