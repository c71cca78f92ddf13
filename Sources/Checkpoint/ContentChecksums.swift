import CZlib
import Dispatch
import Foundation

/// CRC32 of every tensor's bytes and of the other metadata, stored in the file's own metadata: the
/// gzip layer's CRCs catch damage to a compressed file, these catch it in a plain one (or in bytes
/// damaged before compression). Files without them (from HF or older versions) load unchecked.
enum ContentChecksums {
    static let tensorsKey = "tensor_crc32"
    static let metadataKey = "metadata_crc32"
    /// File-level entries, not part of a checkpoint's own metadata.
    static let keys: Set<String> = [tensorsKey, metadataKey]

    /// `metadata` plus both checksum entries, for the tensors about to be written.
    static func stamped(_ metadata: [String: String], tensors: [TensorView]) -> [String: String] {
        let checksums = ResultSlots<UInt32>(count: tensors.count)
        DispatchQueue.concurrentPerform(iterations: tensors.count) { index in
            checksums[index] = .success(crc(UnsafeRawBufferPointer(tensors[index].values)))
        }
        var table: [String: String] = [:]
        for (index, tensor) in tensors.enumerated() {
            if case .success(let value) = checksums[index] { table[tensor.name] = hex(value) }
        }
        var result = metadata
        result[tensorsKey] = jsonObject(table)
        result[metadataKey] = hex(metadataChecksum(result))
        return result
    }

    /// Refuses a file whose tensor data or metadata no longer match their stored checksums.
    static func verify(_ file: SafeTensorsFile) throws {
        if let stored = file.metadata[metadataKey] {
            let computed = hex(metadataChecksum(file.metadata))
            guard stored == computed else {
                throw CheckpointError.invalidHeader(
                    file: file.source, reason: "metadata checksum mismatch (stored \(stored), computed \(computed)): the file is damaged")
            }
        }
        guard let tableText = file.metadata[tensorsKey] else { return }
        guard let table = (try? JSONSerialization.jsonObject(with: Data(tableText.utf8))) as? [String: String] else {
            throw CheckpointError.invalidHeader(file: file.source, reason: "metadata '\(tensorsKey)' is not a JSON object of strings")
        }
        let names = Set(file.entries.map(\.name))
        if let orphan = table.keys.sorted().first(where: { !names.contains($0) }) {
            throw CheckpointError.missingTensors(file: file.source, names: [orphan])
        }
        let computed = ResultSlots<UInt32>(count: file.entries.count)
        file.bytes.withUnsafeBytes { raw in
            let data = SendableRawBuffer(raw)
            DispatchQueue.concurrentPerform(iterations: file.entries.count) { index in
                let range = file.entries[index].dataRange
                computed[index] = .success(crc(UnsafeRawBufferPointer(
                    rebasing: data.buffer[(file.dataStart + range.lowerBound)..<(file.dataStart + range.upperBound)])))
            }
        }
        for (index, entry) in file.entries.enumerated() {
            guard let stored = table[entry.name] else {
                throw CheckpointError.invalidTensor(file: file.source, tensor: entry.name, reason: "has no stored checksum (file edited?)")
            }
            guard case .success(let value) = computed[index], hex(value) == stored else {
                throw CheckpointError.invalidTensor(
                    file: file.source, tensor: entry.name, reason: "data checksum mismatch (stored \(stored)): the file is damaged")
            }
        }
    }

    /// Over every metadata entry but this checksum itself, in key order, each key and value NUL-terminated.
    private static func metadataChecksum(_ metadata: [String: String]) -> UInt32 {
        var bytes: [UInt8] = []
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where key != metadataKey {
            bytes += Array(key.utf8) + [0] + Array(value.utf8) + [0]
        }
        return bytes.withUnsafeBytes { crc($0) }
    }

    private static func crc(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var value = crc32(0, nil, 0)
        var offset = 0
        // zlib takes 32-bit lengths.
        while offset < bytes.count {
            let count = min(bytes.count - offset, 1 << 30)
            value = crc32(value, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(count))
            offset += count
        }
        return UInt32(value)
    }

    private static func jsonObject(_ table: [String: String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: table, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
