import Foundation
import TensorKernels

/// Facts about the machine and the checkout that every benchmark report states.
struct MachineFacts: Codable, Sendable {
    var cpuModel: String
    /// The SIMD extensions that matter for GEMM kernels, as /proc/cpuinfo lists them.
    var simdFlags: [String] = []
    var logicalCores: Int
    var memoryGiB: Double?
    /// The Linux kernel release (/proc/sys/kernel/osrelease).
    var linuxKernel: String?
    var openBLASKernel: String
    var commit: String
    var dirtyFiles: Int
    var date: String
    /// 1, 5 and 15-minute load averages from /proc/loadavg.
    var loadAverage: String?

    static func collect(repository: String = FileManager.default.currentDirectoryPath) -> MachineFacts {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let git = Subprocess.which("git")
        let status = git.flatMap { try? Subprocess.run($0, ["status", "--porcelain", "--untracked-files=no"],
                                                        currentDirectory: repository, allowFailure: true) }
        return MachineFacts(
            cpuModel: cpuDescription(cpuinfo),
            simdFlags: gemmRelevantFlags(cpuinfo),
            logicalCores: ProcessInfo.processInfo.activeProcessorCount,
            memoryGiB: ProcText.field("MemTotal", in: meminfo).flatMap { Double($0.split(separator: " ").first ?? "") }
                .map { $0 / 1_048_576 },
            linuxKernel: (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) },
            openBLASKernel: OpenBLASRuntime.coreName,
            commit: git.flatMap { Subprocess.firstLine($0, ["rev-parse", "HEAD"], currentDirectory: repository) } ?? "unknown",
            dirtyFiles: status.map { $0.output.split(separator: "\n").count } ?? 0,
            date: isoDate(Date()),
            loadAverage: currentLoadAverage())
    }

    var markdownLines: [String] {
        var lines = [
            "- Machine: \(cpuModel), \(logicalCores) logical cores" + (memoryGiB.map { String(format: ", %.0f GiB RAM", $0) } ?? "")
                + (simdFlags.isEmpty ? "" : "; " + simdFlags.joined(separator: " ")),
            "- OpenBLAS kernel: \(openBLASKernel)",
        ]
        if let linuxKernel { lines.append("- Linux kernel: \(linuxKernel)") }
        lines += [
            "- Commit: `\(commit)`" + (dirtyFiles > 0 ? " (plus \(dirtyFiles) uncommitted tracked change(s))" : ""),
            "- Date: \(date)",
        ]
        if let loadAverage { lines.append("- Load average at start (1/5/15 min): \(loadAverage)") }
        return lines
    }
}

/// "AMD EPYC (AuthenticAMD family 26 model 2)": the model name alone can be vague on virtual machines.
func cpuDescription(_ cpuinfo: String) -> String {
    let name = ProcText.field("model name", in: cpuinfo) ?? "unknown CPU"
    guard let vendor = ProcText.field("vendor_id", in: cpuinfo), let family = ProcText.field("cpu family", in: cpuinfo),
          let model = ProcText.field("model", in: cpuinfo) else { return name }
    return "\(name) (\(vendor) family \(family) model \(model))"
}

func gemmRelevantFlags(_ cpuinfo: String) -> [String] {
    let present = OpenBLASRuntime.cpuFlags(cpuinfo: cpuinfo)
    return ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile"].filter(present.contains)
}

func currentLoadAverage() -> String? {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

func isoDate(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: date)
}
