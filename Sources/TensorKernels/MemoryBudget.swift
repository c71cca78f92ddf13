import Foundation

/// Sizes that come from options or files are checked here before anything that large is allocated, so a
/// mistyped `--batch-size` or a forged config.json gets an error naming it instead of an allocation abort.
public enum MemoryBudget {
    /// The product of `factors`, or nil when it overflows `Int` or a factor is negative.
    public static func product(_ factors: Int...) -> Int? { product(factors) }

    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for factor in factors {
            guard factor >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// The sum of `terms`, or nil when one is nil or the sum overflows `Int`.
    public static func sum(_ terms: [Int?]) -> Int? {
        var result = 0
        for term in terms {
            guard let term else { return nil }
            let (next, overflow) = result.addingReportingOverflow(term)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// Bytes this process can still allocate, and what bounds them: the memory the kernel reports
    /// available (`MemAvailable`), or what the address-space limit (`ulimit -v`) leaves, whichever is less.
    public static func available() -> (bytes: Int, bound: String) {
        var best = (bytes: Int(ProcessInfo.processInfo.physicalMemory), bound: "physical memory")
        if let free = meminfoAvailable() { best = (free, "available memory") }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
           limit.rlim_cur < UInt64(Int.max) {
            let left = max(0, Int(limit.rlim_cur) - addressSpaceInUse())
            if left < best.bytes { best = (left, "the address-space limit (ulimit -v)") }
        }
        return best
    }

    /// Throws unless `bytes` (nil: a size that overflowed) fits in what this process can allocate.
    /// `what` names the allocation and the sizes that set it; `hint` says which option or file to change.
    public static func check(_ bytes: Int?, for what: String, hint: String) throws {
        let limit = available()
        if let bytes, bytes <= limit.bytes { return }
        throw MemoryBudgetError(what: what, bytes: bytes, available: limit.bytes, bound: limit.bound, hint: hint)
    }


    private static func meminfoAvailable() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        return kilobytes * 1024
    }

    private static func addressSpaceInUse() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = text.split(separator: " ").first.flatMap({ Int($0) })
        else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

public struct MemoryBudgetError: Error, CustomStringConvertible, Equatable {
    public let what: String
    /// nil: the size overflowed 64-bit arithmetic.
    public let bytes: Int?
    public let available: Int
    public let bound: String
    public let hint: String

    /// The error for a size that overflowed before it could be checked.
    public static func overflow(_ what: String, hint: String) -> MemoryBudgetError {
        let limit = MemoryBudget.available()
        return MemoryBudgetError(what: what, bytes: nil, available: limit.bytes, bound: limit.bound, hint: hint)
    }

    public var description: String {
        guard let bytes else { return "\(what) need more than \(Self.format(Int.max)) (the size overflows 64-bit arithmetic); \(hint)" }
        return "\(what) need \(Self.format(bytes)), more than the \(Self.format(available)) this process can allocate (\(bound)); \(hint)"
    }

    static func format(_ bytes: Int) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f", value) + " " + units[unit]
    }
}
