import Checkpoint
import Corpus
import Dispatch
import Foundation
import Optimization

/// Counters that, with the run seed, fix every random choice still to come: masks are a function
/// of (seed, epoch, batch in epoch) and dropout of (seed, step, micro-batch), so this is the whole
/// "RNG state" a checkpoint needs (the corpus cursor carries the shuffle state).
public struct TrainerState: Codable, Equatable, Sendable {
    public var step: Int
    public var epoch: Int
    public var batchInEpoch: Int
    public var seed: UInt64
    public var bestEvalLoss: Double?
    public var bestEvalStep: Int?
    /// The run's planned steps, which its learning-rate schedule decays over (nil in older checkpoints).
    public var plannedSteps: Int?
    /// Steps skipped in a row so far for a non-finite loss or gradient (nil in older checkpoints: none).
    public var consecutiveBadSteps: Int?

    /// Keeps the best (lowest finite) held-out loss of the primary scheme.
    mutating func record(evalLoss loss: Double) {
        if loss.isFinite, bestEvalLoss.map({ loss < $0 }) ?? true {
            bestEvalLoss = loss
            bestEvalStep = step
        }
    }
}

/// What a resumed run continues from: the weights, the counters and the corpus position.
struct ResumePoint {
    var prepared: PreparedModel
    var state: TrainerState
    var cursor: CorpusCursor
    var checkpoint: LoadedCheckpoint
}

/// A run's checkpoints: writing model + optimizer state, and reading it back for `--resume`.
struct AdaptationCheckpoints {
    static let firstMomentPrefix = "exp_avg."
    static let secondMomentPrefix = "exp_avg_sq."

    let settings: AdaptationSettings
    let prepared: PreparedModel
    let store: CheckpointStore

    init(settings: AdaptationSettings, prepared: PreparedModel, directory: URL) {
        self.settings = settings
        self.prepared = prepared
        store = CheckpointStore(directory: directory, keepLast: settings.keepLast)
    }

    /// Writes `step-N.safetensors.gz` and its optimizer sibling; returns the model file and the seconds it took.
    func save(trainer: MaskedLMOptimizer, state: TrainerState, cursor: CorpusCursor) throws -> (url: URL, seconds: Double) {
        let started = DispatchTime.now()
        let model = trainer.model
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata = CheckpointMetadata(
            configJSON: prepared.configJSON, vocabularyText: prepared.vocabularyText, doLowerCase: prepared.lowercase,
            runArgumentsJSON: try settings.jsonString(), step: state.step,
            dataCursorJSON: String(decoding: try encoder.encode(cursor), as: UTF8.self),
            rngState: String(decoding: try encoder.encode(state), as: UTF8.self))
        var moments: [TensorView] = []
        for tensor in trainer.optimizer.spans.tensors {
            guard let pair = trainer.optimizer.moments(of: tensor.name) else { continue }
            moments.append(TensorView(name: Self.firstMomentPrefix + tensor.name, shape: tensor.shape,
                                      values: UnsafeBufferPointer(pair.first)))
            moments.append(TensorView(name: Self.secondMomentPrefix + tensor.name, shape: tensor.shape,
                                      values: UnsafeBufferPointer(pair.second)))
        }
        let url = try store.save(
            step: state.step, model: model.layout.tensorViews(of: UnsafeBufferPointer(model.parameters)),
            optimizer: moments, metadata: metadata)
        return (url, seconds(since: started))
    }

    static func loadForResume(_ checkpoint: LoadedCheckpoint, settings: AdaptationSettings) throws -> ResumePoint {
        let url = checkpoint.reference.weights
        let prepared = try ModelLoading.prepare(
            checkpoint, heads: .exactly(.maskedLM), lowercase: settings.lowercase, seed: settings.seed)
        // The checkpoint holds the extended vocabulary; the file the run named must still say the same.
        if let path = settings.vocabularyExtension, FileManager.default.fileExists(atPath: path) {
            let text: String
            do { text = try String(contentsOf: URL(fileURLWithPath: path), encoding: .utf8) } catch {
                throw TrainingError.resume("the run's --vocab-extension \(path) is not readable UTF-8 text (\(error.localizedDescription))")
            }
            let named = vocabularyTokens(fromText: text)
            try Checkpoint.verifyVocabulary(
                checkpoint: prepared.vocabulary.tokens, inUse: named, source: "\(url.path) (its run's --vocab-extension \(path))")
        }
        guard let stateJSON = checkpoint.metadata.rngState,
              let cursorJSON = checkpoint.metadata.dataCursorJSON else {
            throw TrainingError.resume("\(url.path) lacks the training state (rng_state, data_cursor); it is not a training checkpoint")
        }
        let decoder = JSONDecoder()
        do {
            let state = try decoder.decode(TrainerState.self, from: Data(stateJSON.utf8))
            let cursor = try decoder.decode(CorpusCursor.self, from: Data(cursorJSON.utf8))
            return ResumePoint(prepared: prepared, state: state, cursor: cursor, checkpoint: checkpoint)
        } catch {
            throw TrainingError.resume("\(url.path): unreadable training state (\(error))")
        }
    }

    /// A new run's folder must not hold another run: its metrics would be overwritten and `--keep-last`,
    /// counting the old run's higher steps, would delete the new run's checkpoints. With `overwrite` the
    /// old run's files are removed first.
    static func claimFolder(_ directory: URL, overwrite: Bool, log: (String) -> Void) throws {
        let store = CheckpointStore(directory: directory)
        let runFiles = [CheckpointStore.latestPointerName, RunDirectory.metricsFileName, RunDirectory.settingsFileName]
            .map { directory.appendingPathComponent($0) }.filter { FileManager.default.fileExists(atPath: $0.path) }
        let checkpoints = store.checkpoints().map(\.url)
        guard !(runFiles.isEmpty && checkpoints.isEmpty) else { return }
        guard overwrite else {
            throw TrainingError.invalidSetting(
                "--output-dir \(directory.path) already holds a run (\(checkpoints.count) checkpoint(s), "
                    + "\(runFiles.map(\.lastPathComponent).joined(separator: ", "))); continue it with --resume \(directory.path), "
                    + "choose another --output-dir, or pass --overwrite to replace it")
        }
        for url in runFiles + checkpoints + checkpoints.map(CheckpointStore.optimizerURL(for:))
        where FileManager.default.fileExists(atPath: url.path) {
            try FileManager.default.removeItem(at: url)
        }
        log("--overwrite: removed the previous run in \(directory.path)")
    }

    /// Loads the AdamW moments saved beside the resumed checkpoint, into the optimizer of the phase that
    /// began at step `phaseStart`.
    func restoreMoments(into optimizer: AdamW, from resume: ResumePoint, phaseStart: Int) throws {
        let step = resume.state.step
        let url = CheckpointStore.optimizerURL(for: resume.checkpoint.url)
        let file = try CheckpointStore.readOptimizer(pairedWith: resume.checkpoint)
        for tensor in optimizer.spans.tensors {
            guard let pair = optimizer.moments(of: tensor.name) else { continue }
            for (prefix, buffer) in [(Self.firstMomentPrefix, pair.first), (Self.secondMomentPrefix, pair.second)] {
                guard let entry = file.entry(prefix + tensor.name), entry.elementCount == tensor.count else {
                    throw TrainingError.resume("\(url.path): no moment \(prefix + tensor.name) of \(tensor.count) values "
                        + "(was the run started with other --freeze-* or --head-warmup-steps options?)")
                }
                try file.readFloats(entry, into: buffer)
            }
        }
        if let saved = file.metadata["step"].flatMap(Int.init), saved != step {
            throw TrainingError.resume("\(url.path) is the optimizer state of step \(saved), the model is at step \(step)")
        }
        optimizer.restore(stepCount: step - phaseStart)
    }

    /// `run.json`: the settings and the model a person reads to know what the folder holds, and the ranks
    /// of the (latest) session (`world_size`, 1 without mpirun; a resume may use another number).
    func writeRunDescription(to directory: URL, worldSize: Int = 1) throws {
        let url = directory.appendingPathComponent(RunDirectory.settingsFileName)
        let object: [String: Any] = [
            "settings": (try? JSONSerialization.jsonObject(with: Data(try settings.jsonString().utf8))) ?? [:],
            "model": prepared.checkpoint?.source ?? "scratch",
            "lowercase": prepared.lowercase,
            "world_size": worldSize,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url, options: .atomic)
    }
}
