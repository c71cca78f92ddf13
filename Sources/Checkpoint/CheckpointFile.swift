import Foundation
import TensorKernels
import Model
#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing one `.safetensors` or `.safetensors.gz` file.
public enum CheckpointFile {
    /// Compressed when the name ends in `.gz`. Atomic: see `AtomicFile`.
    public static func write(
        _ tensors: [TensorView], metadata: [String: String], to url: URL, compression: Gzip.Options = Gzip.Options()
    ) throws {
        try write(tensors, metadata: metadata, to: url, compression: compression, fault: nil)
    }

    static func write(
        _ tensors: [TensorView], metadata: [String: String], to url: URL, compression: Gzip.Options, fault: WriteFault?
    ) throws {
        try refuseNonFinite(tensors, file: url.path)
        let plain = SafeTensorsWriter.serialize(tensors, metadata: ContentChecksums.stamped(metadata, tensors: tensors))
        let pieces = url.pathExtension == "gz"
            ? try plain.withUnsafeBytes { try Gzip.compressMembers($0, options: compression) } : [plain]
        try AtomicFile.write(pieces, to: url, fault: fault)
    }

    /// Reads a plain or gzip-compressed safetensors file (recognised by its first bytes). A compressed
    /// file's size is taken from its safetensors header, inflated first, and checked against memory
    /// before the rest is allocated. Tensor and metadata checksums are verified when present.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let raw = try readAllBytes(url)
        let file: SafeTensorsFile
        if Gzip.isGzip(raw) {
            let lengthField = try Gzip.inflatePrefix(raw, count: 8, source: url.path)
            let prefixLength = try SafeTensorsHeader.requiredPrefix(lengthField: lengthField, source: url.path)
            let header = try SafeTensorsHeader(prefix: Gzip.inflatePrefix(raw, count: prefixLength, source: url.path),
                                               source: url.path)
            try checkFitsInMemory(header.impliedFileSize, source: url.path)
            file = try SafeTensorsFile(
                bytes: Gzip.decompress(raw, source: url.path, expectedSize: header.impliedFileSize), source: url.path)
        } else {
            file = try SafeTensorsFile(bytes: raw, source: url.path)
        }
        try ContentChecksums.verify(file)
        return file
    }

    /// A checkpoint with NaN or Inf in it is never written: resuming from it would train on garbage.
    private static func refuseNonFinite(_ tensors: [TensorView], file: String) throws {
        for tensor in tensors {
            let bad = tensor.values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            if bad > 0 {
                throw CheckpointError.invalidTensor(
                    file: file, tensor: tensor.name, reason: "holds \(bad) non-finite value(s) (NaN or Inf); not written")
            }
        }
    }

    private static func checkFitsInMemory(_ size: Int, source: String) throws {
        do {
            try MemoryBudget.check(size, for: "the \(size) bytes of tensors its header describes", hint: "is the file damaged, or this machine short of memory?")
        } catch let error as MemoryBudgetError {
            throw CheckpointError.invalidHeader(file: source, reason: "\(error)")
        }
    }
}

/// The whole file in one array, read straight into it (no intermediate `Data` copy).
func readAllBytes(_ url: URL) throws -> [UInt8] {
    func failure(_ what: String) -> CheckpointError {
        .io(file: url.path, reason: "cannot read (\(what): \(String(cString: strerror(errno))))")
    }
    let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw failure("open") }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else { throw failure("stat") }
    let size = Int(status.st_size)
    var readError: CheckpointError?
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
        var position = 0
        while position < size {
            let count = read(descriptor, buffer.baseAddress! + position, size - position)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                readError = count == 0 ? .io(file: url.path, reason: "file shrank while being read") : failure("read")
                break
            }
            position += count
        }
        initialized = position
    }
    if let readError { throw readError }
    return bytes
}

extension ParameterLayout {
    /// Views of every parameter in `arena`, with the layout's (HF BertForMaskedLM) names.
    public func tensorViews(of arena: UnsafeBufferPointer<Float>) -> [TensorView] {
        precondition(arena.count >= totalCount, "arena holds \(arena.count) floats, layout needs \(totalCount)")
        return tensors.map { tensor in
            TensorView(name: tensor.name, shape: tensor.shape,
                       values: UnsafeBufferPointer(rebasing: arena[tensor.offset..<(tensor.offset + tensor.count)]))
        }
    }

    /// The heads a set of HF tensor names implies (used when a file comes without a layout).
    public static func inferHeads(fromTensorNames names: some Sequence<String>, shapes: [String: [Int]]) -> ModelHeads {
        let canonical = Set(names.map { WeightNames.canonical($0) ?? $0 })
        let labels = shapes.first { WeightNames.canonical($0.key) == "classifier.weight" }?.value.first
        return ModelHeads(
            maskedLM: canonical.contains { $0.hasPrefix("cls.predictions.") },
            pooler: canonical.contains("bert.pooler.dense.weight"),
            classifierLabels: labels)
    }
}
