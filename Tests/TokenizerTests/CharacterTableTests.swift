import Foundation
import Testing

@testable import Tokenizer

/// The expanded character table against the digests the generator computed from its probe of HF
/// `tokenizers` (Scripts/codegen/generate_character_table.py), for every scalar 0...0x10FFFF.
@Suite struct CharacterTableTests {
    struct Digests: Decodable {
        let tokenizers: String
        let block_size: Int
        let fnv1a64: [String]
    }

    @Test func everyScalarHasTheProbedKindAndMapping() throws {
        let url = Fixtures.directory.appendingPathComponent("character_table_digests.json")
        let digests = try JSONDecoder().decode(Digests.self, from: Data(contentsOf: url))
        let table = BertCharacterTable.shared
        #expect(digests.block_size * digests.fnv1a64.count == 0x110000)
        var mappedScalars = 0
        for (block, expected) in digests.fnv1a64.enumerated() {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            func feed(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            var unmapped: [UInt32] = []
            let first = block * digests.block_size
            for scalar in UInt32(first)..<UInt32(first + digests.block_size) {
                let kind = table.kind(scalar)
                feed(kind.rawValue)
                guard kind.contains(.uncasedMapped) else { continue }
                guard let mapping = table.mappingRanges[scalar] else {
                    unmapped.append(scalar)
                    continue
                }
                mappedScalars += 1
                feed(UInt8(mapping.count))
                for index in Int(mapping.start)..<Int(mapping.start + mapping.count) {
                    let value = table.mappedScalars[index]
                    for shift in stride(from: 0, to: 32, by: 8) { feed(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
                }
            }
            let blockName = "U+\(String(first, radix: 16, uppercase: true))…U+\(String(first + digests.block_size - 1, radix: 16, uppercase: true))"
            #expect(unmapped.isEmpty, "\(blockName): mapped kind without a mapping at \(unmapped.prefix(5).map { "U+" + String($0, radix: 16, uppercase: true) })")
            #expect(String(format: "%016llx", hash) == expected, "\(blockName) differs from tokenizers \(digests.tokenizers)")
        }
        // No mapping for a scalar whose kind says it has none.
        #expect(table.mappingRanges.count == mappedScalars)
    }
}
