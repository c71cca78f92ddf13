/// The numeric precision a command runs the model's GEMMs in. The one spelling of `--precision`.
/// fp32: everything in float. bf16: mixed precision as PyTorch autocast does it (bf16 GEMM inputs,
/// fp32 accumulation, master weights and everything else). auto: bf16 where the CPU and oneDNN
/// support it, else fp32.
public enum Precision: String, CaseIterable, Codable, Sendable {
    case fp32
    case bf16
    case auto
}
