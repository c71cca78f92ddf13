/// Why a requested precision cannot run in this build.
public struct PrecisionUnavailable: Error, CustomStringConvertible, Equatable {
    public var requested: Precision
    public var reason: String
    public var description: String { "--precision \(requested.rawValue): \(reason)" }
}

extension Precision {
    /// The precision the GEMMs really run in: `auto` becomes a concrete one, and a precision this
    /// build cannot run is refused. The one place that knows which backends exist.
    public func resolved() throws(PrecisionUnavailable) -> Precision {
        switch self {
        case .fp32, .auto: return .fp32
        case .bf16:
            throw PrecisionUnavailable(
                requested: self, reason: "the bf16 backend is not available in this build; use fp32 or auto")
        }
    }
}
