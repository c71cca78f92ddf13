/// Row lookups in an embedding table and their gradient (scatter-add).
public enum Embedding {
    /// `output[t, :] = table[indices[t], :]` (or `+=` with `accumulate`). Indices must be in range.
    public static func gather(
        table: UnsafePointer<Float>, indices: UnsafePointer<Int32>, count: Int, columns: Int,
        output: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        Parallel.forEachRange(
            count, grain: Parallel.rowGrain(columns: columns),
            Gather(table: table, indices: indices, columns: columns, output: output, accumulate: accumulate))
    }

    /// `tableGradient[indices[t], :] += gradient[t, :]`. Repeated indices collide, so each worker
    /// owns a slice of columns instead of a slice of rows.
    public static func scatterAdd(
        gradient: UnsafePointer<Float>, indices: UnsafePointer<Int32>, count: Int, columns: Int,
        tableGradient: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEachRange(
            columns, grain: max(16, 65_536 / max(1, count)),
            ScatterAdd(gradient: gradient, indices: indices, count: count, columns: columns, tableGradient: tableGradient))
    }
}

private struct Gather: ParallelBody {
    let table: UnsafePointer<Float>, indices: UnsafePointer<Int32>, columns: Int
    let output: UnsafeMutablePointer<Float>, accumulate: Bool
    func run(_ range: Range<Int>) {
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

/// A slice of columns for every token.
private struct ScatterAdd: ParallelBody {
    let gradient: UnsafePointer<Float>, indices: UnsafePointer<Int32>, count: Int, columns: Int
    let tableGradient: UnsafeMutablePointer<Float>
    func run(_ range: Range<Int>) {
        for t in 0..<count {
            let source = gradient + t * columns, target = tableGradient + Int(indices[t]) * columns
            for j in range { target[j] += source[j] }
        }
    }
}
