// Model state and checkpoint directories: save/load into a fresh model, mismatches,
// atomic saves with `latest`, integrity failures and resume fallback, leftover
// temporary directories, pruning, inspect.
import Foundation
import PhalanxCore
import PhalanxNN
@testable import PhalanxTraining
import Testing

/// A fresh empty directory under the system's temporary directory.
private func scratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("phalanx-checkpoint-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A layer with only buffers, one of them an int64 count, like batch norm's.
private final class RunningStats: Layer {
    let kind = "RunningStats"
    let mean = Buffer(name: "running_mean", value: Tensor(shape: [3]))
    let tracked = Buffer(name: "num_batches_tracked", value: Tensor(shape: []), storageType: .int64)
    var buffers: [Buffer] { [mean, tracked] }
    func outputShape(for inputShape: [Int]) throws(ShapeError) -> [Int] { inputShape }
    func forward(_ input: Tensor, mode: Mode) -> Tensor { input }
    func backward(_ outputGradient: Tensor) -> Tensor { outputGradient }
}

/// Linear(3→hidden), stats, Linear(hidden→2), weights drawn from `seed`.
private func makeModel(seed: UInt64, hidden: Int = 4) -> Sequential {
    var rng = RNG(seed: seed)
    return Sequential([("fc1", Linear(inputs: 3, outputs: hidden, rng: &rng)), ("stats", RunningStats()),
                       ("fc2", Linear(inputs: hidden, outputs: 2, rng: &rng))])
}

private func stateValues(_ model: Layer) -> [String: [Float]] {
    var values: [String: [Float]] = [:]
    for p in model.parameters { values[p.name] = p.value.scalars }
    for b in model.buffers { values[b.name] = b.value.scalars }
    return values
}

/// What a trainer might keep in trainer.json.
private struct TrainerState: Codable, Equatable, Sendable {
    var epoch: Int
    var rng: [UInt64]
    var losses: [Double]
}

private let optimizerState = ["fc1.weight.exp_avg": Tensor(shape: [4, 3], repeating: 0.25)]

/// Saves a checkpoint of `step` from a model seeded by the step.
@discardableResult
private func save(_ store: CheckpointStore, step: Int, best: Bool = false) throws -> URL {
    let trainer = TrainerState(epoch: step / 10, rng: [UInt64.max, 0x9E37_79B9_7F4A_7C15], losses: [2.5, 0.125])
    return try store.save(step: step, model: makeModel(seed: UInt64(step)), optimizer: optimizerState,
                          optimizerMetadata: ["name": "adam"], trainer: trainer, best: best)
}

/// Replaces byte `offset` (from the end when negative) of the file at `url`.
private func corrupt(_ url: URL, at offset: Int) throws {
    var bytes = try [UInt8](Data(contentsOf: url))
    let i = offset >= 0 ? offset : bytes.count + offset
    bytes[i] ^= 0x5A
    try Data(bytes).write(to: url)
}

@Suite struct ModelStateTests {
    @Test func saveAndLoadIntoAFreshModel() throws {
        let model = makeModel(seed: 1)
        let stats = model.children[1].layer as! RunningStats
        stats.mean.value.fill(0.75)
        stats.tracked.value[0] = 41
        let url = try scratchDirectory().appendingPathComponent("model.safetensors")
        try ModelState.save(model, to: url)

        let file = try SafeTensors.read(from: url)
        #expect(file.names == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight",
                               "stats.num_batches_tracked", "stats.running_mean"])
        #expect(file.entries["stats.num_batches_tracked"]?.dtype == .i64)
        #expect(file["fc1.weight"]?.shape == [4, 3])
        #expect(ModelState.parameterCount(file) == 4 * 3 + 4 + 2 * 4 + 2)

        let fresh = makeModel(seed: 2)
        #expect(stateValues(fresh) != stateValues(model))
        try ModelState.load(into: fresh, from: url)
        #expect(stateValues(fresh) == stateValues(model))
    }

    @Test func mismatchesNameTheTensorAndLeaveTheModelAlone() throws {
        let url = try scratchDirectory().appendingPathComponent("model.safetensors")
        try ModelState.save(makeModel(seed: 1), to: url)

        let wider = makeModel(seed: 3, hidden: 5)
        let before = stateValues(wider)
        #expect(throws: CheckpointError(file: url.path, .shapeMismatch(tensor: "fc1.weight", expected: [5, 3], found: [4, 3]))) {
            try ModelState.load(into: wider, from: url)
        }
        #expect(stateValues(wider) == before)

        var rng = RNG(seed: 4)
        let longer = Sequential([("fc1", Linear(inputs: 3, outputs: 4, rng: &rng)), ("stats", RunningStats()),
                                 ("fc2", Linear(inputs: 4, outputs: 2, rng: &rng)), ("fc3", Linear(inputs: 2, outputs: 2, rng: &rng))])
        #expect(throws: CheckpointError(file: url.path, .missingTensor("fc3.weight"))) {
            try ModelState.load(into: longer, from: url)
        }

        var extra = try SafeTensors.read(from: url)
        extra.entries["head.weight"] = .init(Tensor(shape: [1]))
        #expect(throws: CheckpointError(file: "extra", .unexpectedTensor("head.weight"))) {
            try ModelState.apply(extra, to: makeModel(seed: 5), file: "extra")
        }
    }
}

@Suite struct CheckpointStoreTests {
    @Test func saveThenLatestThenLoad() throws {
        let store = CheckpointStore(run: "demo", runs: try scratchDirectory())
        try save(store, step: 100)
        let second = try save(store, step: 200)
        #expect(second.lastPathComponent == "step-000200")
        #expect(store.steps() == [100, 200])
        #expect(store.latestStep() == 200)
        let link = store.directory.appendingPathComponent("latest")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == "step-000200")

        let loaded = try #require(try store.loadLatest(as: TrainerState.self))
        #expect(loaded.step == 200)
        #expect(loaded.trainer == TrainerState(epoch: 20, rng: [UInt64.max, 0x9E37_79B9_7F4A_7C15], losses: [2.5, 0.125]))
        #expect(loaded.optimizer.metadata == ["name": "adam", "step": "200"])
        #expect(loaded.optimizer["fc1.weight.exp_avg"]?.scalars == optimizerState["fc1.weight.exp_avg"]!.scalars)
        let fresh = makeModel(seed: 9)
        try ModelState.apply(loaded.model, to: fresh, file: "model")
        #expect(stateValues(fresh) == stateValues(makeModel(seed: 200)))

        let viaLink = try Checkpoint.load(from: link, as: TrainerState.self)
        #expect(viaLink.step == 200)
        let names = try FileManager.default.contentsOfDirectory(atPath: store.directory.path).sorted()
        #expect(names == ["latest", "step-000100", "step-000200"])
    }

    @Test func savingTheSameStepAgainReplacesIt() throws {
        let store = CheckpointStore(directory: try scratchDirectory().appendingPathComponent("checkpoints"))
        try save(store, step: 7)
        try store.save(step: 7, model: ModelState.tensors(of: makeModel(seed: 70)), optimizer: SafeTensors(),
                       trainer: ["epoch": 1])
        let loaded = try Checkpoint.load(from: store.url(step: 7), as: [String: Int].self)
        #expect(loaded.trainer == ["epoch": 1])
        #expect(loaded.model["fc1.weight"]?.scalars == makeModel(seed: 70).parameters[0].value.scalars)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory.path).sorted() == ["latest", "step-000007"])
    }

    @Test func corruptedModelIsRefusedAndResumeFallsBack() throws {
        let store = CheckpointStore(directory: try scratchDirectory())
        try save(store, step: 1)
        let newest = try save(store, step: 2)
        let model = newest.appendingPathComponent("model.safetensors")
        try corrupt(model, at: -5) // a weight byte: still a well-formed file
        #expect(throws: CheckpointError.self) { try Checkpoint.load(from: newest, as: TrainerState.self) }
        do {
            _ = try Checkpoint.load(from: newest, as: TrainerState.self)
        } catch {
            #expect(error.file == model.path)
            guard case .checksumMismatch = error.fault else { Issue.record("got \(error)"); return }
        }
        let resumed = try #require(try store.resume(as: TrainerState.self))
        #expect(resumed.checkpoint.step == 1)
        #expect(resumed.skipped.map(\.file) == [model.path])
        #expect(resumed.skipped.first?.description.contains("corrupted") == true)
    }

    @Test func truncatedOrMissingFilesAreNamed() throws {
        let store = CheckpointStore(directory: try scratchDirectory())
        let first = try save(store, step: 1)
        let optimizer = first.appendingPathComponent("optimizer.safetensors")
        let bytes = try Data(contentsOf: optimizer)
        try bytes.prefix(bytes.count - 4).write(to: optimizer)
        #expect(throws: CheckpointError(file: optimizer.path, .sizeChanged(expected: bytes.count, actual: bytes.count - 4))) {
            try Checkpoint.load(from: first, as: TrainerState.self)
        }
        let second = try save(store, step: 2)
        let model = second.appendingPathComponent("model.safetensors")
        try FileManager.default.removeItem(at: model)
        #expect(throws: CheckpointError(file: model.path, .missing)) { try Checkpoint.load(from: second, as: TrainerState.self) }
        let third = try save(store, step: 3)
        let trainer = third.appendingPathComponent("trainer.json")
        try Data("{\"format\": ".utf8).write(to: trainer)
        #expect(throws: CheckpointError.self) { try Checkpoint.load(from: third, as: TrainerState.self) }

        do {
            _ = try store.resume(as: TrainerState.self)
            Issue.record("resume found a good checkpoint among three bad ones")
        } catch {
            #expect(error.file == store.directory.path)
            guard case .noUsableCheckpoint(let skipped) = error.fault else { Issue.record("got \(error)"); return }
            #expect(skipped.count == 3)
            #expect(skipped[0].hasPrefix(trainer.path + ": invalid JSON"))
            #expect(skipped[1].hasPrefix(model.path))
            #expect(skipped[2].hasPrefix(optimizer.path))
        }
    }

    @Test func leftoverTemporaryDirectoriesAreIgnored() throws {
        let store = CheckpointStore(directory: try scratchDirectory())
        #expect(try store.resume(as: TrainerState.self) == nil)
        try save(store, step: 5)
        for junk in [".tmp-step-000009-4242", "tmp-step-000010", "step-00001x", "step-"] {
            let url = store.directory.appendingPathComponent(junk)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
            try Data("partial".utf8).write(to: url.appendingPathComponent("model.safetensors"))
        }
        #expect(store.steps() == [5])
        let resumed = try #require(try store.resume(as: TrainerState.self))
        #expect(resumed.checkpoint.step == 5)
        #expect(resumed.skipped.isEmpty)
    }

    @Test func pruningKeepsTheNewestAndWhatLatestAndBestName() throws {
        var store = CheckpointStore(directory: try scratchDirectory(), keep: 2)
        try save(store, step: 1)
        try save(store, step: 2, best: true)
        for step in 3...5 { try save(store, step: step) }
        #expect(store.steps() == [2, 4, 5])
        #expect(store.latestStep() == 5)
        #expect(store.bestStep() == 2)

        // `latest` pointing at an old step (a resume that fell back) is spared too.
        store.keep = nil
        try save(store, step: 6)
        try store.markBest(step: 4)
        try DurableFile.replaceSymlink(store.directory.appendingPathComponent("latest"), target: "step-000002")
        #expect(try store.prune(keep: 1) == [5])
        #expect(store.steps() == [2, 4, 6])
        #expect(throws: CheckpointError(file: store.url(step: 3).path, .missing)) { try store.markBest(step: 3) }
    }

    @Test func inspectSummarizesACheckpoint() throws {
        let store = CheckpointStore(directory: try scratchDirectory())
        let url = try save(store, step: 12)
        let summary = try CheckpointSummary.inspect(store.directory.appendingPathComponent("latest"))
        #expect(summary.step == 12)
        #expect(summary.model.map(\.name) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight",
                                              "stats.num_batches_tracked", "stats.running_mean"])
        #expect(summary.model[1] == .init(name: "fc1.weight", dtype: .f32, shape: [4, 3]))
        #expect(summary.model[4].dtype == .i64)
        #expect(summary.parameterCount == 26)
        #expect(summary.optimizer.map(\.name) == ["fc1.weight.exp_avg"])
        #expect(summary.files.keys.sorted() == ["model.safetensors", "optimizer.safetensors"])
        #expect(summary.trainerJSON?.contains("\"epoch\" : 1") == true)
        #expect(summary.description.contains("fc1.weight"))
        #expect(summary.description.contains("26 parameters"))

        let lone = try CheckpointSummary.inspect(url.appendingPathComponent("model.safetensors"))
        #expect(lone.step == nil && lone.parameterCount == 26 && lone.trainerJSON == nil)
    }
}
