import CZlib
import Foundation

/// A minimal PNG decoder for test screenshots: 8-bit RGB or RGBA, non-interlaced (what Chromium writes).
struct PNGImage {
    let width: Int
    let height: Int
    /// RGB triples, row-major.
    let pixels: [UInt8]

    struct DecodeError: Error, CustomStringConvertible { let description: String }

    init(contentsOf url: URL) throws {
        let data = [UInt8](try Data(contentsOf: url))
        guard data.count > 8, data[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw DecodeError(description: "\(url.path): not a PNG")
        }
        func be32(_ i: Int) -> Int { Int(data[i]) << 24 | Int(data[i + 1]) << 16 | Int(data[i + 2]) << 8 | Int(data[i + 3]) }
        var offset = 8
        var width = 0, height = 0, channels = 0
        var compressed: [UInt8] = []
        while offset + 8 <= data.count {
            let length = be32(offset)
            let type = String(decoding: data[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = (offset + 8)..<(offset + 8 + length)
            guard body.upperBound + 4 <= data.count else { throw DecodeError(description: "\(url.path): truncated chunk \(type)") }
            switch type {
            case "IHDR":
                width = be32(body.lowerBound); height = be32(body.lowerBound + 4)
                let depth = data[body.lowerBound + 8], colour = data[body.lowerBound + 9], interlace = data[body.lowerBound + 12]
                guard depth == 8, colour == 2 || colour == 6, interlace == 0 else {
                    throw DecodeError(description: "\(url.path): unsupported PNG (depth \(depth), colour type \(colour), interlace \(interlace))")
                }
                channels = colour == 2 ? 3 : 4
            case "IDAT": compressed += data[body]
            default: break
            }
            offset = body.upperBound + 4
        }
        guard width > 0, height > 0 else { throw DecodeError(description: "\(url.path): no IHDR") }
        let rowBytes = width * channels
        var raw = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var rawLength = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { out in
            compressed.withUnsafeBufferPointer { input in
                uncompress(out.baseAddress, &rawLength, input.baseAddress, uLong(input.count))
            }
        }
        guard status == Z_OK, Int(rawLength) == raw.count else {
            throw DecodeError(description: "\(url.path): inflate failed (zlib \(status), \(rawLength) of \(raw.count) bytes)")
        }
        // Undo the per-row filters (PNG spec, section 9).
        var image = [UInt8](repeating: 0, count: height * rowBytes)
        for y in 0..<height {
            let filter = raw[y * (rowBytes + 1)]
            for x in 0..<rowBytes {
                let value = Int(raw[y * (rowBytes + 1) + 1 + x])
                let a = x >= channels ? Int(image[y * rowBytes + x - channels]) : 0
                let b = y > 0 ? Int(image[(y - 1) * rowBytes + x]) : 0
                let c = x >= channels && y > 0 ? Int(image[(y - 1) * rowBytes + x - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw DecodeError(description: "\(url.path): bad filter \(filter) in row \(y)")
                }
                image[y * rowBytes + x] = UInt8((value + predictor) & 0xFF)
            }
        }
        var rgb = [UInt8]()
        rgb.reserveCapacity(width * height * 3)
        for i in stride(from: 0, to: image.count, by: channels) { rgb += image[i..<(i + 3)] }
        self.width = width; self.height = height; self.pixels = rgb
    }

    /// Pixels within `tolerance` (per channel) of `colour`, given as "#rrggbb".
    func count(near colour: String, tolerance: Int = 24) -> Int {
        let hex = Int(colour.dropFirst(), radix: 16)!
        let r = hex >> 16 & 0xFF, g = hex >> 8 & 0xFF, b = hex & 0xFF
        var n = 0
        for i in stride(from: 0, to: pixels.count, by: 3)
        where abs(Int(pixels[i]) - r) <= tolerance && abs(Int(pixels[i + 1]) - g) <= tolerance && abs(Int(pixels[i + 2]) - b) <= tolerance {
            n += 1
        }
        return n
    }

    /// Variance of the grey level over all pixels: 0 for a blank page.
    var greyVariance: Double {
        var sum = 0.0, squares = 0.0
        let count = Double(pixels.count / 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            let grey = (Double(pixels[i]) + Double(pixels[i + 1]) + Double(pixels[i + 2])) / 3
            sum += grey; squares += grey * grey
        }
        let mean = sum / count
        return squares / count - mean * mean
    }
}
