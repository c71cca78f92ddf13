import DataParallel
import Model

/// The checks that keep a data-parallel run one run: every rank was started with the same settings at the
/// same point, and the ranks' weights stay bit-identical (each takes the same update from the same
/// summed gradient, so a difference means a broken node or a wrong build, never rounding).
extension Adaptation {
    /// What must be equal on every rank: the settings (threads aside: a machine's cores may differ) and the
    /// step the run starts from.
    var rankFingerprintText: String {
        var shared = settings
        shared.threads = 1
        return ((try? shared.jsonString()) ?? "\(shared)") + " step \(resume?.state.step ?? 0)"
    }

    /// Refuses ranks started with different arguments (or resumed from different checkpoints), and ranks
    /// whose starting weights differ.
    func checkRanksAgree() throws {
        guard group.isDistributed else { return }
        let differing = try group.ranksDiffering(
            from: Fingerprint.of(rankFingerprintText), "MPI_Bcast of the settings' fingerprint")
        if !differing.isEmpty {
            throw DataParallelError.mismatch(
                "the ranks of this mpirun job were started with different arguments: rank(s) "
                    + differing.map(String.init).joined(separator: ", ") + " differ from rank 0 in their settings or resume point "
                    + "(every rank must run the same command line; --threads may differ)")
        }
        try checkWeightsAgree(prepared.model, step: resume?.state.step ?? 0)
    }

    func checkWeightsAgree(_ model: BertModel, step: Int) throws {
        guard group.isDistributed else { return }
        let differing = try group.ranksDiffering(
            from: Fingerprint.of(UnsafeBufferPointer(model.parameters)), "MPI_Bcast of the weights' fingerprint")
        if !differing.isEmpty {
            throw DataParallelError.mismatch(
                "at step \(step) the weights of rank(s) " + differing.map(String.init).joined(separator: ", ")
                    + " differ from rank 0's: every rank must load the same model files (a shared folder or identical copies)")
        }
    }
}
