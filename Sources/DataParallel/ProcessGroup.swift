import CMPI
import Foundation

/// Why data-parallel training cannot start, or a collective call failed.
public enum DataParallelError: Error, CustomStringConvertible, Equatable {
    /// Started by mpirun, but Open MPI cannot be loaded or initialised.
    case unavailable(String)
    /// A collective call failed, usually because another rank died.
    case communication(String)
    /// The ranks disagree (settings, weights).
    case mismatch(String)

    public var description: String {
        switch self {
        case .unavailable(let message), .communication(let message), .mismatch(let message): message
        }
    }
}

/// How this process was started: on its own, or as one rank of an `mpirun` job (told by the
/// variables Open MPI and PMIx set in every rank's environment).
public enum Launch: Equatable, Sendable {
    case single
    /// `variable` is the environment variable that gave it away; `localRanks` share this machine.
    case mpirun(variable: String, localRanks: Int)
    /// Started by another MPI's launcher (MPICH, Intel MPI, srun with PMI-2), whose library this build does not bind.
    case otherLauncher(variable: String)

    public static let markers = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"]
    public static let otherMarkers = ["PMI_RANK", "PMI_SIZE"]

    public static func detect(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Launch {
        if let variable = markers.first(where: { environment[$0] != nil }) {
            let local = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
            return .mpirun(variable: variable, localRanks: max(1, local))
        }
        if let variable = otherMarkers.first(where: { environment[$0] != nil }) { return .otherLauncher(variable: variable) }
        return .single
    }
}

/// The processes of one training run: this one alone (`single`, MPI never loaded), or every rank of an
/// `mpirun` job over MPI_COMM_WORLD. Collectives must be called by every rank in the same order; each
/// throws `DataParallelError.communication` when MPI reports a failure.
public final class ProcessGroup: Sendable {
    public let rank: Int
    public let size: Int
    /// Ranks of the job on this machine (1 alone).
    public let localRanks: Int
    /// MPI was initialised (under mpirun, also with one rank): `finalize` or `abort` must end the process.
    public let usesMPI: Bool

    public static let single = ProcessGroup(rank: 0, size: 1, localRanks: 1, usesMPI: false)

    /// Open MPI's library; `MLM_ADAPT_MPI_LIBRARY` names another.
    public static let defaultLibrary = "libmpi.so.40"
    public static let libraryVariable = "MLM_ADAPT_MPI_LIBRARY"

    private init(rank: Int, size: Int, localRanks: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.localRanks = localRanks
        self.usesMPI = usesMPI
    }

    /// Worker threads per rank when none are asked for: the cores mpirun bound the rank to, or, unbound,
    /// the machine's cores shared among its ranks.
    public func defaultThreads(cores: Int) -> Int {
        if let bound = Self.boundCores, bound < cores { return bound }
        return max(1, cores / localRanks)
    }

    /// The CPUs this process may run on, when the system says.
    public static var boundCores: Int? {
        let count = Int(mlm_affinity_cpu_count())
        return count > 0 ? count : nil
    }

    /// Rank 0: the one that evaluates, logs and writes the run folder.
    public var isLeader: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }

    /// The group this process belongs to: `single` without mpirun, else MPI initialised from the library
    /// (an error saying what is missing when it cannot be loaded).
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup {
        let variable: String, localRanks: Int
        switch Launch.detect(environment) {
        case .single: return .single
        case .otherLauncher(let marker):
            throw DataParallelError.unavailable(
                "started by an MPI launcher other than Open MPI's mpirun (\(marker) is set: MPICH, Intel MPI, srun --mpi=pmi2?); "
                    + "data-parallel training runs under Open MPI's mpirun (or srun --mpi=pmix)")
        case .mpirun(let marker, let local):
            (variable, localRanks) = (marker, local)
        }
        let library = environment[libraryVariable] ?? defaultLibrary
        var error = [CChar](repeating: 0, count: 512)
        guard mlm_mpi_load(library, &error, error.count) == 1 else {
            throw DataParallelError.unavailable(
                "started by mpirun (\(variable) is set), but Open MPI's \(library) cannot be loaded: "
                    + text(error) + ". Install Debian's openmpi-bin and libopenmpi-dev (make deps), "
                    + "or set \(libraryVariable) to the library's path")
        }
        var rank: Int32 = 0, size: Int32 = 0
        let status = mlm_mpi_init(&rank, &size)
        guard status == 0 else {
            throw DataParallelError.unavailable("MPI_Init_thread failed: \(describe(status))")
        }
        return ProcessGroup(rank: Int(rank), size: Int(size), localRanks: localRanks, usesMPI: true)
    }

    static func describe(_ status: Int32) -> String {
        var text = [CChar](repeating: 0, count: 512)
        mlm_mpi_describe(status, &text, text.count)
        return Self.text(text)
    }

    /// A C string filled in by the shim.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func check(_ status: Int32, _ call: String) throws {
        guard status != 0 else { return }
        throw DataParallelError.communication(
            "rank \(rank) of \(size): \(call) failed (\(Self.describe(status))); another rank has probably stopped")
    }

    /// Sums `values` over all ranks, in place; every rank gets the same sums.
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>, _ what: String = "MPI_Allreduce") throws {
        guard usesMPI, size > 1, let base = values.baseAddress else { return }
        try check(mlm_mpi_allreduce_sum_double(base, values.count), what)
    }

    /// Sums `values`, the concatenation of one block per rank (`counts[r]` floats each), over the ranks and
    /// leaves this rank's block of the sums in `block`: the first half of a ring allreduce.
    public func reduceScatterSum(_ values: UnsafeBufferPointer<Float>, into block: UnsafeMutableBufferPointer<Float>,
                                 counts: [Int32], _ what: String = "MPI_Reduce_scatter") throws {
        guard usesMPI, size > 1, let source = values.baseAddress, let target = block.baseAddress else { return }
        precondition(counts.count == size && block.count >= Int(counts[rank]), "reduceScatterSum: \(counts) for \(size) ranks")
        try counts.withUnsafeBufferPointer { try check(mlm_mpi_reduce_scatter_sum_float(source, target, $0.baseAddress!), what) }
    }

    /// Every rank's block of `values` (`counts[r]` floats at `offsets[r]`) to every rank, in place: the
    /// second half of a ring allreduce.
    public func allgather(_ values: UnsafeMutableBufferPointer<Float>, counts: [Int32], offsets: [Int32],
                          _ what: String = "MPI_Allgatherv") throws {
        guard usesMPI, size > 1, let base = values.baseAddress else { return }
        precondition(counts.count == size && offsets.count == size, "allgather: \(counts) at \(offsets) for \(size) ranks")
        try counts.withUnsafeBufferPointer { counts in
            try offsets.withUnsafeBufferPointer { offsets in
                try check(mlm_mpi_allgather_float(base, counts.baseAddress!, offsets.baseAddress!), what)
            }
        }
    }

    /// The largest of the ranks' `value`s, on every rank.
    public func largest(_ value: Int32, _ what: String = "MPI_Allreduce") throws -> Int32 {
        guard usesMPI, size > 1 else { return value }
        var result = Double(value)
        try check(mlm_mpi_allreduce_max_double(&result, 1), what)
        return Int32(result)
    }

    /// Rank `root`'s value, on every rank.
    public func broadcast(_ value: UInt64, from root: Int = 0, _ what: String = "MPI_Bcast") throws -> UInt64 {
        guard usesMPI, size > 1 else { return value }
        var result = value
        try check(mlm_mpi_broadcast(&result, Int(MemoryLayout<UInt64>.size), Int32(root)), what)
        return result
    }

    /// The ranks whose `value` differs from rank 0's, known to every rank (for checks that all ranks
    /// agree: on the settings they were started with, on the weights).
    public func ranksDiffering(from value: UInt64, _ what: String) throws -> [Int] {
        guard usesMPI, size > 1 else { return [] }
        let leader = try broadcast(value, what)
        var differs = [Double](repeating: 0, count: size)
        differs[rank] = leader == value ? 0 : 1
        try differs.withUnsafeMutableBufferPointer { try allreduceSum($0, what) }
        return differs.indices.filter { differs[$0] > 0 }
    }

    public func barrier(_ what: String = "MPI_Barrier") throws {
        guard usesMPI, size > 1 else { return }
        try check(mlm_mpi_barrier(), what)
    }

    /// Ends every rank of the job (mpirun reports the code); alone, just exits.
    public func abort(code: Int32) -> Never {
        if usesMPI { mlm_mpi_abort(code) }
        exit(code)
    }

    /// Call once, at the end, on every rank.
    public func finalize() {
        if usesMPI { _ = mlm_mpi_finalize() }
    }
}
