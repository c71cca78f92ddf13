import Foundation
import TensorKernels

/// Facts about the machine and the checkout that every benchmark report states.
struct MachineFacts: Sendable {
    var cpuModel: String
    var logicalCores: Int
    var memoryGiB: Double?
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
            cpuModel: procField(cpuinfo, "model name") ?? "unknown CPU",
            logicalCores: ProcessInfo.processInfo.activeProcessorCount,
            memoryGiB: procField(meminfo, "MemTotal").flatMap { Double($0.split(separator: " ").first ?? "") }
                .map { $0 / 1_048_576 },
            openBLASKernel: OpenBLASRuntime.coreName,
            commit: git.flatMap { Subprocess.firstLine($0, ["rev-parse", "HEAD"], currentDirectory: repository) } ?? "unknown",
            dirtyFiles: status.map { $0.output.split(separator: "\n").count } ?? 0,
            date: isoDate(Date()),
            loadAverage: currentLoadAverage())
    }

    var markdownLines: [String] {
        var lines = [
            "- Machine: \(cpuModel), \(logicalCores) logical cores" + (memoryGiB.map { String(format: ", %.0f GiB RAM", $0) } ?? ""),
            "- OpenBLAS kernel: \(openBLASKernel)",
            "- Commit: `\(commit)`" + (dirtyFiles > 0 ? " (plus \(dirtyFiles) uncommitted tracked change(s))" : ""),
            "- Date: \(date)",
        ]
        if let loadAverage { lines.append("- Load average at start (1/5/15 min): \(loadAverage)") }
        return lines
    }
}

/// The value of `key` in a /proc file of `key : value` lines.
func procField(_ text: String, _ key: String) -> String? {
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        if parts.count == 2 && parts[0].trimmingCharacters(in: .whitespaces) == key {
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
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
