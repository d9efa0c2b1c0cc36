// The training loop's dealings with the other ranks: the gradient reducer, the
// checkpoint every rank resumes from (rank 0 chooses), agreement on config and data, and
// rank 0's weights for everyone.
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxNN

extension TrainingLoop {
    // MARK: Ranks

    /// The gradient path of every task: a bucketed reducer on its own communicator,
    /// fed by the network's "gradients ready" hook where it has one (else all buckets
    /// are reduced when backward is over); batch norm with global statistics if asked.
    func makeReducer(_ model: Layer, _ parameters: [Parameter]) throws -> GradientReducer? {
        guard comm.size > 1 else { return nil }
        let r = GradientReducer(communicator: try comm.split(color: 0, key: comm.rank), parameters: parameters,
                                bucketBytes: Int(config.distributed.bucketMB * 1_048_576),
                                overlap: config.distributed.overlap)
        (model as? Sequential)?.onGradientsReady = { r.ready($0) }
        if config.distributed.syncBatchnorm {
            let comm = self.comm
            for bn in allLayers(of: model).compactMap({ $0 as? BatchNorm }) {
                bn.reduceStatistics = { sums in
                    do { try comm.allreduceSum(sums) } catch { comm.abort(code: 1) }
                }
            }
        }
        return r
    }

    /// The task, and the checkpoint every rank resumes from. Rank 0 tries the run's
    /// checkpoints in `resumeOrder` (`latest` first): the first that verifies, builds the
    /// task from its saved state and whose model and optimizer state fit the task's
    /// network is taken, every other one named with its reason; it tells the others,
    /// which load the same directory.
    func buildTask<State: Codable>(_ store: CheckpointStore, as type: TaskCheckpointState<State>.Type) throws
        -> (Task, Checkpoint<TaskCheckpointState<State>>?) where State == Task.State {
        func saved(_ c: Checkpoint<TaskCheckpointState<State>>) -> SavedTaskState<State> {
            SavedTaskState(state: c.trainer.task, file: c.directory.appendingPathComponent(CheckpointLayout.trainer).path)
        }
        guard context.options.resume else { return (try Task(context, saved: nil), nil) }
        var chosen = ""
        var found: (Task, Checkpoint<TaskCheckpointState<State>>)?
        if comm.rank == 0 {
            var skipped: [String] = []
            for step in store.resumeOrder() {
                let url = store.url(step: step)
                do {
                    let ckpt = try Checkpoint<TaskCheckpointState<State>>.load(from: url, as: type)
                    let task = try Task(context, saved: saved(ckpt))
                    try ModelState.apply(ckpt.model, to: task.network, file: url.appendingPathComponent(CheckpointLayout.model).path)
                    do {
                        try task.makeOptimizer(config, fail: context.fail)
                            .loadState(ckpt.optimizer.entries.mapValues(\.tensor), metadata: ckpt.optimizer.metadata,
                                       step: ckpt.trainer.run.step, parameters: task.network.parameters)
                    } catch {
                        throw CheckpointError(file: url.appendingPathComponent(CheckpointLayout.optimizer).path,
                                              .io("optimizer state does not fit this model: \(error)"))
                    }
                    found = (task, ckpt)
                    break
                } catch {
                    skipped.append("\(error)")
                }
            }
            for s in skipped { progress.say("resume: skipped \(s)") }
            if let found {
                chosen = found.1.directory.path
            } else if !skipped.isEmpty {
                throw CheckpointError(file: store.directory.path, .noUsableCheckpoint(skipped: skipped))
            } else {
                progress.say("resume: no checkpoint in \(store.directory.path); starting fresh")
            }
        }
        chosen = try comm.broadcast(chosen, root: 0)
        if let found { return found }
        if chosen.isEmpty { return (try Task(context, saved: nil), nil) }
        let ckpt = try Checkpoint<TaskCheckpointState<State>>.load(from: URL(fileURLWithPath: chosen), as: type)
        return (try Task(context, saved: saved(ckpt)), ckpt)
    }

    /// Every rank must run the same config on the same data: a difference is an error on
    /// every rank (no rank waits for a collective the others never reach).
    func agreeAcrossRanks(_ task: Task) throws {
        try agree("data", "\(task.batchesPerEpoch) batches an epoch; \(task.fingerprint)")
    }

    /// Gathers `mine` from every rank; where one differs from rank 0's, every rank throws
    /// `ranksDisagree` naming `what` and both values.
    func agree(_ what: String, _ mine: String) throws {
        let all = try comm.allgather(Array(mine.utf8)).map { String(decoding: $0, as: UTF8.self) }
        if let differs = all.firstIndex(where: { $0 != all[0] }) {
            throw TrainingError.ranksDisagree("\(what) (\(all[0]) on rank 0, \(all[differs]) on rank \(differs))")
        }
    }

    /// Copies rank 0's parameters and buffers to every rank.
    func broadcast(_ model: Layer) throws {
        guard comm.size > 1 else { return }
        for t in model.parameters.map(\.value) + model.buffers.map(\.value) {
            try comm.broadcast(UnsafeMutableBufferPointer(start: t.data, count: t.count), root: 0)
        }
    }
}
