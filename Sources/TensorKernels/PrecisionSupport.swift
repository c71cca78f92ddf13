import Foundation

/// Environment switches of the precision choice (documented in README.md, "CPU kernels").
public enum PrecisionEnvironment {
    /// `1` keeps oneDNN unloaded: `auto` runs fp32 and `--precision bf16` is refused.
    public static let disableOneDNN = "MLM_ADAPT_NO_ONEDNN"
    /// `1` lets `--precision bf16` run on any CPU through `EmulatedBF16Gemm` (slower than fp32; for testing).
    public static let emulateBF16 = "MLM_ADAPT_BF16_EMULATE"

    static func isOn(_ name: String, in environment: [String: String]) -> Bool {
        guard let value = environment[name] else { return false }
        return !value.isEmpty && value != "0"
    }
}

/// What a run's `--precision` turned into on this machine, with the reason, for the start-of-run log.
public struct ResolvedPrecision: Sendable {
    public let requested: Precision
    /// `.fp32` or `.bf16`, never `.auto`.
    public let precision: Precision
    public let reason: String
    /// The bf16 GEMM backend when `precision == .bf16`.
    public let bf16Gemm: (any BF16Gemm)?

    public static let fp32 = ResolvedPrecision(requested: .fp32, precision: .fp32, reason: "requested", bf16Gemm: nil)

    init(requested: Precision, precision: Precision, reason: String, bf16Gemm: (any BF16Gemm)?) {
        self.requested = requested
        self.precision = precision
        self.reason = reason
        self.bf16Gemm = bf16Gemm
    }

    /// The library and kernel the encoder's dense layers run on.
    public var gemmBackend: String { bf16Gemm?.name ?? "OpenBLAS sgemm (\(OpenBLASRuntime.coreName) kernel)" }

    /// oneDNN's implementation string (e.g. `brg:avx512_core_bf16`) when oneDNN runs the GEMMs.
    public var oneDNNImplementation: String? { (bf16Gemm as? OneDNNBF16Gemm)?.implementation }

    /// One line for the start of a run.
    public var logLine: String {
        let scope = precision == .bf16 ? " for the dense and attention products; softmax, LayerNorm, GELU, the loss and the optimizer in fp32" : ""
        return "precision: \(precision.rawValue) (\(reason)); GEMM backend: \(gemmBackend)\(scope)"
    }
}

public enum PrecisionError: Error, CustomStringConvertible, Equatable {
    case bf16Unavailable(reason: String)

    public var description: String {
        switch self {
        case .bf16Unavailable(let reason):
            return "--precision bf16 is not available here: \(reason). Use --precision fp32 (or auto, which falls back to it)"
        }
    }
}

extension Precision {
    /// The CPU flags bf16 needs (AVX-512 BF16 dot products, or AMX tiles); `bf16Slowdown` says where it pays.
    public static let bf16CPUFlags: Set<String> = ["avx512_bf16", "amx_bf16"]

    /// Resolves `requested` on this machine: `auto` is bf16 only when bf16 pays on this CPU
    /// (`bf16Slowdown` is nil), oneDNN loads and creates a bf16 matmul; otherwise fp32, with the reason. An explicit
    /// `bf16` runs wherever the CPU has avx512_bf16 or AMX and oneDNN works, and otherwise throws
    /// `PrecisionError` with the reason. `fp32` never loads oneDNN.
    public static func resolve(requested: Precision) throws -> ResolvedPrecision {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return try resolve(
            requested: requested, environment: ProcessInfo.processInfo.environment,
            cpuFlags: OpenBLASRuntime.cpuFlags(cpuinfo: cpuinfo), cpuVendor: OpenBLASRuntime.cpuVendor(cpuinfo: cpuinfo),
            oneDNN: { OneDNNBF16Gemm.shared.map { $0 as any BF16Gemm } })
    }

    /// Why `auto` stays fp32 on a CPU that can run bf16, or nil where bf16 is the faster path: AMX
    /// tiles, or AMD's avx512_bf16 (Zen 4 and 5: oneDNN's bf16 matmul at about twice sgemm, 365–425
    /// against 191–205 GFLOP/s on 2 cores). Intel cores without AMX issue `vdpbf16ps` on one port where
    /// fp32 FMAs issue on two; measured on a Xeon of family 6 model 207 without AMX, oneDNN's bf16
    /// matmul ran at 141–146 GFLOP/s on 2 threads against sgemm's 189–214, and a MiniLM step at 0.72×.
    /// A rule rather than a timing at start, so that every run, resume and rank on a machine decides alike.
    public static func bf16Slowdown(cpuFlags: Set<String>, cpuVendor: String) -> String? {
        if cpuFlags.contains("amx_bf16") || cpuVendor == "AuthenticAMD" { return nil }
        return "this CPU has avx512_bf16 but no AMX, where bf16 runs slower than fp32 (oneDNN's bf16 matmul "
            + "measured at 0.7× of sgemm on such a Xeon); --precision bf16 forces it"
    }

    /// The same decision from given facts; `oneDNN` is only called when the CPU qualifies.
    public static func resolve(
        requested: Precision, environment: [String: String], cpuFlags: Set<String>, cpuVendor: String,
        oneDNN: () -> Result<any BF16Gemm, OneDNNUnavailable>
    ) throws -> ResolvedPrecision {
        if requested == .fp32 { return .fp32 }
        if requested == .bf16, PrecisionEnvironment.isOn(PrecisionEnvironment.emulateBF16, in: environment) {
            return ResolvedPrecision(
                requested: requested, precision: .bf16,
                reason: "emulated because \(PrecisionEnvironment.emulateBF16) is set: for testing, slower than fp32",
                bf16Gemm: EmulatedBF16Gemm())
        }
        let unavailable: String
        if PrecisionEnvironment.isOn(PrecisionEnvironment.disableOneDNN, in: environment) {
            unavailable = "oneDNN is disabled by \(PrecisionEnvironment.disableOneDNN)"
        } else if cpuFlags.isDisjoint(with: bf16CPUFlags) {
            unavailable = "this CPU has neither avx512_bf16 nor AMX (amx_bf16)"
        } else if requested == .auto, let slowdown = bf16Slowdown(cpuFlags: cpuFlags, cpuVendor: cpuVendor) {
            unavailable = slowdown
        } else {
            switch oneDNN() {
            case .success(let gemm):
                return ResolvedPrecision(
                    requested: requested, precision: .bf16, reason: requested == .auto ? "auto" : "requested",
                    bf16Gemm: gemm)
            case .failure(let error):
                unavailable = error.description
            }
        }
        if requested == .bf16 { throw PrecisionError.bf16Unavailable(reason: unavailable) }
        return ResolvedPrecision(requested: requested, precision: .fp32, reason: "auto: \(unavailable)", bf16Gemm: nil)
    }
}

extension Precision {
    /// This precision on this machine: `resolve(requested: self)`.
    public func resolved() throws -> ResolvedPrecision { try Self.resolve(requested: self) }
}
