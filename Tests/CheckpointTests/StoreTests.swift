import Foundation
import Model
import Testing
@testable import Checkpoint

@Suite struct StoreTests {
    static let layout = ParameterLayout(config: tinyConfig, heads: .maskedLM)

    static func arena(seed: UInt64) -> Arena {
        let arena = Arena(layout)
        _ = arena.buffer.initialize(from: randomFloats(layout.totalCount, seed: seed))
        return arena
    }

    static func metadata(step: Int) -> CheckpointMetadata {
        CheckpointMetadata(
            configJSON: String(decoding: (try? tinyConfig.jsonData()) ?? Data(), as: UTF8.self), vocabularyText: tinyVocabularyText,
            doLowerCase: true, runArgumentsJSON: "{\"lr\":0.0001}", step: step, dataCursorJSON: "{\"file\":3,\"offset\":77}",
            rngState: "12345", metricsJSON: "{\"loss\":2.5}")
    }

    @Test func metadataRoundTripsThroughTheFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let arena = Self.arena(seed: 1)
        let url = folder.appendingPathComponent("one.safetensors.gz")
        var metadata = Self.metadata(step: 12)
        metadata.extra["note"] = "kept"
        try CheckpointFile.write(arena.views(), metadata: metadata.dictionary(), to: url)
        let loaded = try LoadedCheckpoint.open(url)
        #expect(loaded.metadata == metadata)
        #expect(loaded.tensors.metadata["format"] == "pt")
        #expect(loaded.tensors.metadata["checkpoint_format"] == "mlm-adapt-checkpoint/1")
        let copy = Arena(Self.layout)
        _ = try loaded.loadWeights(into: copy.buffer, layout: Self.layout)
        for tensor in Self.layout.tensors { #expect(copy.values(tensor.name) == arena.values(tensor.name)) }
    }

    @Test func newerFormatVersionIsRefused() throws {
        let error = try #require(throws: CheckpointError.self) {
            try CheckpointMetadata(dictionary: ["checkpoint_format": "mlm-adapt-checkpoint/2"], source: "future.safetensors.gz")
        }
        #expect(error.description.contains("future.safetensors.gz"))
        #expect(error.description.contains("version 2"))
    }

    @Test func keepsLastKAndPointsLatestAtNewest() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = CheckpointStore(directory: folder, keepLast: 2)
        let arena = Self.arena(seed: 2), moments = Self.arena(seed: 3)
        let optimizer = moments.views().map { TensorView(name: "exp_avg." + $0.name, shape: $0.shape, values: $0.values) }
        #expect(try store.latest() == nil)
        for step in [10, 20, 30, 40] {
            try store.save(step: step, model: arena.views(), optimizer: optimizer, metadata: Self.metadata(step: 0))
        }
        #expect(store.checkpoints().map(\.step) == [30, 40])
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["latest", "step-30.optimizer.safetensors.gz", "step-30.safetensors.gz",
                          "step-40.optimizer.safetensors.gz", "step-40.safetensors.gz"])
        let latest = try #require(try store.latest())
        #expect(latest.lastPathComponent == "step-40.safetensors.gz")
        #expect(try LoadedCheckpoint.open(latest).metadata.step == 40)
        let optimizerFile = try CheckpointFile.read(CheckpointStore.optimizerURL(for: latest))
        #expect(try optimizerFile.floats("exp_avg.bert.embeddings.LayerNorm.bias") == moments.values("bert.embeddings.LayerNorm.bias"))
        // The model file itself is a clean HF file: no optimizer tensors.
        #expect(try LoadedCheckpoint.open(latest).tensors.entries.allSatisfy { !$0.name.hasPrefix("exp_avg") })
    }

    /// A write that fails part-way (disk full) leaves the previous checkpoint and `latest`
    /// intact and no file, partial or temporary, under the new names.
    @Test(arguments: [0, 100, 50_000])
    func failedWriteLeavesPreviousCheckpointLoadable(failAfter: Int) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = CheckpointStore(directory: folder, keepLast: 1)
        let arena = Self.arena(seed: 4)
        try store.save(step: 1, model: arena.views(), optimizer: nil, metadata: Self.metadata(step: 1))
        let before = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        let error = try #require(throws: CheckpointError.self) {
            try store.save(step: 2, model: arena.views(), optimizer: arena.views(), metadata: Self.metadata(step: 2),
                           fault: WriteFault(kind: .diskFull, afterBytes: failAfter))
        }
        #expect(error.description.contains("No space left on device"), "\(error)")
        #expect(error.description.contains("step-2"), "\(error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == before)
        let latest = try #require(try store.latest())
        #expect(latest.lastPathComponent == "step-1.safetensors.gz")
        let copy = Arena(Self.layout)
        _ = try LoadedCheckpoint.open(latest).loadWeights(into: copy.buffer, layout: Self.layout)
        #expect(copy.values("bert.embeddings.word_embeddings.weight") == arena.values("bert.embeddings.word_embeddings.weight"))
    }

    /// The optimizer file landed but the model did not: the orphan sibling is removed, so a retry after
    /// disk-full does not fail again on the space it holds.
    @Test func failedModelWriteRemovesItsOptimizerSibling() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = CheckpointStore(directory: folder, keepLast: 3)
        let arena = Self.arena(seed: 6)
        try store.save(step: 1, model: arena.views(), optimizer: nil, metadata: Self.metadata(step: 1))
        let before = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        let small = try #require(arena.views().first { $0.values.count <= 64 })
        #expect(throws: CheckpointError.self) {
            try store.save(step: 2, model: arena.views(), optimizer: [small], metadata: Self.metadata(step: 2),
                           fault: WriteFault(kind: .diskFull, afterBytes: 20_000))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == before)
    }

    /// Two saves' files are never paired: the optimizer sibling carries its save's id.
    @Test func optimizerFromAnotherSaveIsRefused() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = CheckpointStore(directory: folder.appendingPathComponent("a"))
        let second = CheckpointStore(directory: folder.appendingPathComponent("b"))
        let arena = Self.arena(seed: 7)
        let optimizer = arena.views().map { TensorView(name: "exp_avg." + $0.name, shape: $0.shape, values: $0.values) }
        let model = try first.save(step: 5, model: arena.views(), optimizer: optimizer, metadata: Self.metadata(step: 5))
        let other = try second.save(step: 5, model: arena.views(), optimizer: optimizer, metadata: Self.metadata(step: 5))
        #expect(try CheckpointStore.readOptimizer(pairedWith: LoadedCheckpoint.open(model)).entries.count == optimizer.count)
        try FileManager.default.removeItem(at: CheckpointStore.optimizerURL(for: model))
        try FileManager.default.copyItem(at: CheckpointStore.optimizerURL(for: other), to: CheckpointStore.optimizerURL(for: model))
        let error = try #require(throws: CheckpointError.self) {
            try CheckpointStore.readOptimizer(pairedWith: LoadedCheckpoint.open(model))
        }
        #expect(error.description.contains("belongs to another save"), "\(error)")
    }

    @Test func orphanOptimizerFilesAreRemoved() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = CheckpointStore(directory: folder)
        let arena = Self.arena(seed: 8)
        try Data("x".utf8).write(to: folder.appendingPathComponent("step-3.optimizer.safetensors.gz"))
        try store.save(step: 4, model: arena.views(), optimizer: nil, metadata: Self.metadata(step: 4))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["latest", "step-4.safetensors.gz"])
    }

    @Test func aSecondRunOnTheSameFolderIsRefused() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try withExtendedLifetime(try RunFolderLock(directory: folder)) {
            let error = try #require(throws: CheckpointError.self) { try RunFolderLock(directory: folder) }
            #expect(error.description.contains("pid \(getpid())"), "\(error)")
        }
        // Released with its holder.
        _ = try RunFolderLock(directory: folder)
    }

    /// A writer killed mid-file leaves `NAME.tmp-PID`; it is never taken for a checkpoint and
    /// the next save removes it once that process is gone.
    @Test func abandonedTemporaryIsIgnoredAndCleaned() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = CheckpointStore(directory: folder, keepLast: 3)
        let arena = Self.arena(seed: 5)
        try store.save(step: 1, model: arena.views(), optimizer: nil, metadata: Self.metadata(step: 1))
        // A PID above the kernel's maximum cannot be running.
        let orphan = folder.appendingPathComponent("step-2.safetensors.gz.tmp-2147483646")
        try write([0x1F, 0x8B, 8, 0], to: orphan)
        #expect(store.checkpoints().map(\.step) == [1])
        #expect(try store.latest()?.lastPathComponent == "step-1.safetensors.gz")
        try store.save(step: 3, model: arena.views(), optimizer: nil, metadata: Self.metadata(step: 3))
        #expect(!FileManager.default.fileExists(atPath: orphan.path))
    }

    /// A real process killed (SIGKILL) in the middle of writing the model file: the previous
    /// checkpoint stays `latest` and loadable, and no file exists under the new final names.
    @Test func writerProcessKilledMidFileLeavesPreviousCheckpoint() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = CheckpointStore(directory: folder, keepLast: 3)
        let arena = Self.arena(seed: 6)
        try store.save(step: 1, model: arena.views(), optimizer: nil, metadata: Self.metadata(step: 1))
        let path = folder.path
        await #expect(processExitsWith: .signal(SIGKILL)) { [path = path as String] in
            let arena = StoreTests.arena(seed: 7)
            let store = CheckpointStore(directory: URL(fileURLWithPath: path), keepLast: 3)
            _ = try store.save(step: 2, model: arena.views(), optimizer: nil, metadata: StoreTests.metadata(step: 2),
                               fault: WriteFault(kind: .killProcess, afterBytes: 20_000))
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
        #expect(names.contains { $0.hasPrefix("step-2.safetensors.gz.tmp-") }, "\(names)")
        #expect(!names.contains("step-2.safetensors.gz"))
        #expect(store.checkpoints().map(\.step) == [1])
        let latest = try #require(try store.latest())
        #expect(latest.lastPathComponent == "step-1.safetensors.gz")
        let copy = Arena(Self.layout)
        _ = try LoadedCheckpoint.open(latest).loadWeights(into: copy.buffer, layout: Self.layout)
        #expect(copy.values("bert.embeddings.word_embeddings.weight") == arena.values("bert.embeddings.word_embeddings.weight"))
        // The next save (by a live process) removes the dead writer's temporary.
        try store.save(step: 3, model: arena.views(), optimizer: nil, metadata: Self.metadata(step: 3))
        #expect(try FileManager.default.contentsOfDirectory(atPath: path).allSatisfy { !$0.contains(".tmp-") })
    }
}
