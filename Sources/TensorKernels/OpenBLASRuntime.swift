import CBLAS
import Foundation

/// Picks the fastest OpenBLAS kernel this CPU supports. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not
/// recognise some newer CPUs and falls back to an SSE3 (`Prescott`) kernel several times slower. The kernel
/// is chosen when the library loads, so the fix is to set `OPENBLAS_CORETYPE` and re-execute ourselves.
public enum OpenBLASRuntime {
    /// The kernel OpenBLAS runs, e.g. `SkylakeX`, `Haswell`, `Prescott`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Threads for all TensorKernels work: sets `Parallel.workerCount`. OpenBLAS itself stays single-threaded
    /// (`Gemm` splits each product over the workers), so its spinning threads never compete with ours.
    public static func setThreads(_ count: Int) {
        Parallel.workerCount = max(1, count)
        openblas_set_num_threads(1)
    }
    /// OpenBLAS's own thread count (1 once TensorKernels has run a GEMM or `setThreads` was called).
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// SIMD tier of an OpenBLAS x86-64 core name: 3 = AVX-512, 2 = AVX2, 1 = older, 0 = unknown.
    public static func tier(ofCore name: String) -> Int {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 3
        case "haswell", "zen", "excavator": return 2
        case "", "unknown": return 0
        default: return 1
        }
    }

    /// The `OPENBLAS_CORETYPE` value for a CPU with these `/proc/cpuinfo` flags (names 0.3.21 accepts).
    /// SkylakeX and Cooperlake share the same SGEMM kernel; Cooperlake only adds BF16 routines.
    public static func bestCore(cpuFlags: Set<String>) -> String? {
        if cpuFlags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]) { return "SKYLAKEX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "HASWELL" }
        return nil
    }

    /// The `flags` line of the first processor in `/proc/cpuinfo`, or empty where there is none.
    public static func cpuFlags(cpuinfo: String) -> Set<String> {
        Set((ProcText.field("flags", in: cpuinfo) ?? "").split(separator: " ").map(String.init))
    }

    /// The `vendor_id` of /proc/cpuinfo (`GenuineIntel`, `AuthenticAMD`), or "" when it has none.
    public static func cpuVendor(cpuinfo: String) -> String { ProcText.field("vendor_id", in: cpuinfo) ?? "" }

    /// What `ensureBestKernel` should do, as a pure function so it can be tested.
    public enum Decision: Equatable, Sendable {
        case keep(reason: String)
        case reexec(coreType: String)
    }

    public static func decide(
        currentCore: String, environment: [String: String], cpuFlags: Set<String>
    ) -> Decision {
        if environment["MLM_ADAPT_NO_BLAS_REEXEC"] == "1" {
            return .keep(reason: "MLM_ADAPT_NO_BLAS_REEXEC=1")
        }
        let best = bestCore(cpuFlags: cpuFlags)
        if let forced = environment["OPENBLAS_CORETYPE"] {
            if let best, tier(ofCore: currentCore) < tier(ofCore: best) {
                return .keep(
                    reason: "OPENBLAS_CORETYPE=\(forced) set by the environment; this CPU supports \(best): unset it for the faster kernel")
            }
            return .keep(reason: "OPENBLAS_CORETYPE=\(forced)")
        }
        guard let best else { return .keep(reason: "no AVX2/AVX-512 flags in /proc/cpuinfo") }
        if tier(ofCore: currentCore) < tier(ofCore: best) { return .reexec(coreType: best) }
        return .keep(reason: "detected by OpenBLAS")
    }

    /// The kernel in use and why, e.g. "OpenBLAS kernel: SkylakeX (detected by OpenBLAS)", set by
    /// `ensureBestKernel`; training commands put it in their run log.
    nonisolated(unsafe) public private(set) static var kernelDescription = "OpenBLAS kernel: \(coreName)"

    /// Call first thing in `main`. Re-executes `/proc/self/exe` with the same arguments and
    /// `OPENBLAS_CORETYPE` set when OpenBLAS picked an older kernel than the CPU supports;
    /// otherwise records the kernel in `kernelDescription` (printed to stderr too when `verbose`)
    /// and returns. `MLM_ADAPT_NO_BLAS_REEXEC=1` disables it.
    public static func ensureBestKernel(arguments: [String] = CommandLine.arguments, verbose: Bool = false) {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let decision = decide(
            currentCore: coreName, environment: ProcessInfo.processInfo.environment,
            cpuFlags: cpuFlags(cpuinfo: cpuinfo))
        switch decision {
        case .keep(let reason):
            kernelDescription = "OpenBLAS kernel: \(coreName) (\(reason))"
            if verbose { log(kernelDescription) }
        case .reexec(let coreType):
            if verbose {
                log("OpenBLAS kernel: \(coreName) is older than this CPU supports; re-executing with OPENBLAS_CORETYPE=\(coreType)")
            }
            setenv("OPENBLAS_CORETYPE", coreType, 1)
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
            argv.append(nil)
            execv("/proc/self/exe", &argv)
            // Only reached when exec failed: carry on with the slower kernel.
            kernelDescription = "OpenBLAS kernel: \(coreName) (re-exec with OPENBLAS_CORETYPE=\(coreType) failed, errno \(errno))"
            log(kernelDescription)
            unsetenv("OPENBLAS_CORETYPE")
            for pointer in argv { free(pointer) }
        }
    }

    private static func log(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// `key : value` lines of Linux's /proc text files (cpuinfo, meminfo).
public enum ProcText {
    /// The value of the first line whose key is `key`, trimmed; nil when no line has it.
    public static func field(_ key: String, in text: String) -> String? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 && parts[0].trimmingCharacters(in: .whitespaces) == key {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
