/// Row lookups in an embedding table and their gradient (scatter-add).
public enum Embedding {
    /// `output[t, :] = table[indices[t], :]` (or `+=` with `accumulate`). Indices must be in range.
    public static func gather(
        table: UnsafePointer<Float>, indices: UnsafePointer<Int32>, count: Int, columns: Int,
        output: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        Parallel.forEachRange(count, grain: Parallel.rowGrain(columns: columns)) { range in
            for t in range {
                let source = table + Int(indices[t]) * columns, target = output + t * columns
                if accumulate {
                    for j in 0..<columns { target[j] += source[j] }
                } else {
                    target.update(from: source, count: columns)
                }
            }
        }
    }

    /// `tableGradient[indices[t], :] += gradient[t, :]`. Repeated indices collide, so each worker
    /// owns a slice of columns instead of a slice of rows.
    public static func scatterAdd(
        gradient: UnsafePointer<Float>, indices: UnsafePointer<Int32>, count: Int, columns: Int,
        tableGradient: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEachRange(columns, grain: max(16, 65_536 / max(1, count))) { range in
            for t in 0..<count {
                let source = gradient + t * columns, target = tableGradient + Int(indices[t]) * columns
                for j in range { target[j] += source[j] }
            }
        }
    }
}
