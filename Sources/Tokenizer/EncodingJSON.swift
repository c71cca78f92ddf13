extension Encoding {
    /// Appends `{"tokens", "ids", "offsets", "word_ids"}` as one JSON line (what `mlm-adapt tokenize` prints),
    /// written directly because JSONEncoder would be the bottleneck.
    public func appendJSONLine(to output: inout [UInt8]) {
        func append(_ text: String) { output.append(contentsOf: text.utf8) }
        func appendList<Element>(_ key: String, _ elements: [Element], last: Bool = false, _ write: (Element) -> Void) {
            append("\"\(key)\":[")
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(element)
            }
            append(last ? "]" : "],")
        }
        output.append(UInt8(ascii: "{"))
        appendList("tokens", tokens) { Self.appendJSONString($0, to: &output) }
        appendList("ids", ids) { append(String($0)) }
        appendList("offsets", offsets) { append("[\($0.lowerBound),\($0.upperBound)]") }
        appendList("word_ids", wordIds, last: true) { append($0.map { String($0) } ?? "null") }
        append("}\n")
    }

    static func appendJSONString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                output.append(UInt8(ascii: "\\"))
                output.append(byte)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
