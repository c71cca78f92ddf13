import Foundation

/// How `embed` writes its vectors.
public enum EmbeddingFormat: String, CaseIterable, Codable, Sendable {
    /// One JSON object per input text, in input order: `{"index": i, "embedding": [...]}`.
    case jsonl
    /// A float32 `.npy` matrix `[texts, H]` (NumPy format 1.0, little-endian, C order).
    case npy
}

public enum EmbeddingOutput {
    /// The bytes of `embeddings` (`[count, dimension]` row-major) in `format`.
    public static func encode(_ embeddings: [Float], count: Int, dimension: Int, format: EmbeddingFormat) -> Data {
        precondition(embeddings.count == count * dimension, "embeddings must hold count × dimension values")
        switch format {
        case .jsonl: return jsonLines(embeddings, count: count, dimension: dimension)
        case .npy: return npy(embeddings, rows: count, columns: dimension)
        }
    }

    static func jsonLines(_ embeddings: [Float], count: Int, dimension: Int) -> Data {
        var text = ""
        text.reserveCapacity(count * dimension * 12)
        for row in 0..<count {
            text += "{\"index\":\(row),\"embedding\":["
            for column in 0..<dimension {
                if column > 0 { text += "," }
                // Swift prints the shortest text that reads back as the same Float.
                let value = embeddings[row * dimension + column]
                text += value.isFinite ? "\(value)" : "null"
            }
            text += "]}\n"
        }
        return Data(text.utf8)
    }

    /// NumPy's `.npy` format 1.0: magic, version, a little-endian header length, a Python-literal header
    /// padded with spaces so the data starts at a multiple of 64 bytes, then the raw values.
    static func npy(_ values: [Float], rows: Int, columns: Int) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
        let prefix = 10  // magic (6) + version (2) + header length (2)
        let total = (prefix + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: total - prefix - header.utf8.count - 1) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBufferPointer { buffer in
            for value in buffer {
                let bits = value.bitPattern.littleEndian
                withUnsafeBytes(of: bits) { data.append(contentsOf: $0) }
            }
        }
        return data
    }
}
