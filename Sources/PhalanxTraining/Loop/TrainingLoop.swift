// The one training loop: epochs of steps (schedule, clipping, the optimizer step, one
// gradient reducer for every task), evaluation into named metrics, checkpoints with
// `latest` and `best` by a monitored metric, early stopping on it, exact resume and the
// run summary — for any `TrainingTask`.
//
// Under mpirun every rank runs this loop on its part of each global batch; the reducer
// sums the ranks' gradients (each normalised by the global batch) before the optimizer
// step, so N ranks follow the trajectory of one process. Rank 0 chooses the checkpoint
// to resume from, prints, writes metrics, checkpoints and the summary.
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxNN

/// Trains one task to the end (or an early stop) and evaluates it.
public final class TrainingLoop<Task: TrainingTask> {
    public let context: TaskContext
    var config: ExperimentConfig { context.config }
    var comm: Communicator { context.communicator }
    let progress: ProgressReporter
    /// The registry name the summary and checkpoints carry.
    public let taskName: String

    public init(_ loaded: LoadedConfig, taskName: String, options: TrainOptions = TrainOptions(),
                communicator: Communicator = LocalCommunicator()) {
        context = TaskContext(loaded: loaded, communicator: communicator, options: options)
        self.taskName = taskName
        progress = ProgressReporter(logEvery: loaded.config.train.logEvery, interactive: options.interactive,
                                    quiet: options.quiet || communicator.rank != 0, prefix: options.linePrefix)
    }

    /// The metric watched for `best` and early stopping, and which way it improves.
    func monitored() throws -> (name: String, direction: MetricDirection) {
        let name = config.checkpoint.monitor ?? Task.defaultMonitor
        let specs = Task.metrics.map { ("validation_\($0.name)", $0.direction) }
        guard let found = specs.first(where: { $0.0 == name }) else {
            throw context.fail("checkpoint.monitor", "'\(name)' is not a validation metric of the \(taskName) task; known: "
                + specs.map(\.0).joined(separator: ", "))
        }
        return (name, found.1)
    }

    @discardableResult
    public func run() throws -> RunSummary {
        let t = config.train, fail = context.fail, rank = comm.rank, world = comm.size, isRoot = rank == 0
        try validate()
        // Before any other collective: the same experiment and the same --resume on every
        // rank (a rank started otherwise would wait in a collective the others skip).
        if world > 1 {
            try agree("config (hash)", config.hash)
            try agree("--resume flags", context.options.resume ? "--resume" : "no --resume")
        }
        if t.threads > 0 { Parallel.threads = t.threads }
        let monitor = try monitored()
        try TaskRegistry.kind(named: taskName)?.checkSections(context.loaded)
        let store = CheckpointStore(run: config.name, runs: URL(fileURLWithPath: config.checkpoint.directory),
                                    keep: config.checkpoint.keep)
        typealias Saved = TaskCheckpointState<Task.State>
        if isRoot {
            let stale = store.removeTemporaries()
            if !stale.isEmpty { progress.say("removed \(stale.count) unfinished checkpoint writes: \(stale.joined(separator: ", "))") }
            // A fresh start never mixes with an earlier run in the same directory.
            if !context.options.resume, let moved = try RunArchive.archive(context.runDirectory) {
                progress.say("note: \(context.runDirectory.path) held an earlier run; moved it to \(moved.path) "
                    + "(continue a run with --resume)")
            }
            try store.checkWritable()
        }
        let (task, resumed) = try buildTask(store, as: Saved.self)
        let model = task.network
        let parameters = model.parameters
        let optimizer = try task.makeOptimizer(config, fail: fail)
        let batches = task.batchesPerEpoch
        let schedule = try ScheduleFactory.make(t, batchesPerEpoch: batches, fail: fail)
        let dropouts = allLayers(of: model).compactMap { $0 as? Dropout }
        progress.unit = task.unit
        if t.earlyStopping != nil && !task.splits.contains(.validation) {
            throw fail("train.early_stopping", "needs a validation split: set data.validation to a number of held-out samples")
        }
        if world > 1 && batches > 0 { try agreeAcrossRanks(task) }
        let closureOptimizer = optimizer as? ClosureOptimizer
        if closureOptimizer != nil {
            if !task.batchesRepeatable {
                throw fail("train.optimizer.kind", "\(t.optimizer.kind) evaluates each batch several times; the \(taskName) task "
                    + "carries state from one evaluation to the next (hidden state of truncated BPTT), so it needs a first-order optimizer")
            }
            if !dropouts.isEmpty {
                progress.say("note: \(t.optimizer.kind) with dropout: each evaluation of a batch draws new masks, so the line "
                    + "search sees a noisy objective (set the dropout rate to 0 for a deterministic one)")
            }
        }
        func optimizerMetadata() -> [String: String] {
            optimizer.stateMetadata().merging(["kind": optimizer.kind]) { _, kind in kind }
        }

        var state = RunState(config: config, worldSize: world, monitor: monitor.name, dropoutRNG: dropouts.map(\.rng))
        if let ckpt = resumed {
            try ModelState.apply(ckpt.model, to: model, file: ckpt.directory.appendingPathComponent(CheckpointLayout.model).path)
            do {
                try optimizer.loadState(ckpt.optimizer.entries.mapValues(\.tensor), metadata: ckpt.optimizer.metadata,
                                        step: ckpt.trainer.run.step, parameters: parameters)
            } catch {
                throw CheckpointError(file: ckpt.directory.appendingPathComponent(CheckpointLayout.optimizer).path,
                                      .io("optimizer state does not fit this model: \(error)"))
            }
            state = ckpt.trainer.run
            if state.monitor != monitor.name { state.best = nil; state.bestStep = nil; state.monitor = monitor.name }
            // A checkpoint from before a config section existed hashes differently but decodes
            // to the same values (the section's defaults): no note then.
            let changed = state.configHash == config.hash ? [] : config.differences(from: state.config)
            if !changed.isEmpty {
                progress.say("resume: note — the config differs from the one the checkpoint was trained with: "
                    + changed.prefix(6).joined(separator: "; ") + (changed.count > 6 ? "; … \(changed.count - 6) more" : "")
                    + (changed.contains { $0.hasPrefix("data.normalize") } ? " (the checkpoint's normalisation statistics are kept)" : ""))
            }
            state.configHash = config.hash
            state.config = config
            for (d, rng) in zip(dropouts, state.dropoutRNG) { d.rng = rng }
            progress.say("resumed \(config.name) from \(ckpt.directory.path) (epoch \(state.epoch), step \(state.step)"
                + (state.batch > 0 ? ", inside epoch \(state.epoch + 1) at batch \(state.batch + 1)" : "") + ")")
        }
        if resumed == nil, let initFrom = config.initFrom, isRoot { try initialize(model, from: initFrom) }
        state.worldSize = world
        if !isRoot {
            // Each rank its own dropout masks (rank 0 keeps the stream a checkpoint saves).
            for (i, d) in dropouts.enumerated() {
                d.rng = RNG(seed: config.seed &+ UInt64(rank) &* 0x9E37_79B9_7F4A_7C15, stream: 5000 + UInt64(i))
            }
        }
        let metrics = isRoot ? try MetricsLog(url: context.runDirectory.appendingPathComponent("metrics.jsonl"),
                                              keepThroughStep: context.options.resume ? state.step : nil) : nil
        let tensorBoard = isRoot && config.logging.tensorboard
            ? try TensorBoardLog(directory: context.runDirectory.appendingPathComponent("tb"),
                                 keepThroughStep: context.options.resume ? state.step : nil) : nil
        /// A record into metrics.jsonl and, with the same numbers, the event file.
        func log(_ record: MetricRecord) throws {
            if try metrics?.append(record) == true { tensorBoard?.add(record) }
        }
        // One model on every rank: rank 0's weights and statistics win.
        try broadcast(model)
        let reducer = try makeReducer(model, parameters)
        progress.say("\(config.name): \(ModelState.parameterCount(ModelState.tensors(of: model))) parameters; "
            + task.description + "; \(t.epochs) epochs of \(batches) batches of \(t.batchSize); "
            + "\(Parallel.threads) threads" + (world > 1 ? " on each of \(world) ranks" : ""))

        let started = Date()
        let elapsedBefore = state.elapsed
        func now() -> Double { elapsedBefore + Date().timeIntervalSince(started) }
        var stoppedEarly = false
        var lastCheckpoint: URL? = resumed?.directory
        var trainSamples = 0, trainSeconds = 0.0
        let lastEpoch = min(t.epochs, context.options.stopAfterEpochs ?? t.epochs)
        let step = StandardStep(
            zero: { model.zeroGradients() },
            check: { out in
                guard out.loss.isFinite else { throw TrainingError.nonFiniteLoss(step: state.step + 1, epoch: state.epoch + 1) }
            },
            reduce: { try reducer?.finish() },
            apply: { subset in
                let stepped = subset ?? parameters
                if t.clipNorm > 0 { clipGradientNorm(stepped, maxNorm: t.clipNorm) }
                optimizer.learningRate = schedule.rate(at: state.step, base: t.optimizer.lr)
                optimizer.step(stepped)
            },
            minimize: closureOptimizer.map { closure in
                { objective in
                    closure.learningRate = schedule.rate(at: state.step, base: t.optimizer.lr)
                    try closure.step(parameters, objective: objective)
                }
            },
            sum: { [comm] loss in world > 1 ? try comm.allreduceSum([loss])[0] : loss })
        var converged: String?

        var stopAtEpochEnd: Int32?
        while state.epoch < lastEpoch {
            let epoch = state.epoch + 1
            try task.startEpoch(epoch)
            let epochStart = Date()
            var lossSum = 0.0, units = 0, samples = 0, correct = 0, counted = false
            for b in min(state.batch, batches)..<batches {
                let out = try task.trainStep(batch: b, step: step)
                state.step += 1
                converged = closureOptimizer?.converged
                state.batch = b + 1
                if stopAtEpochEnd == nil, let signal = try stopRequested(after: state.step), b + 1 < batches {
                    if task.resumesMidEpoch {
                        // Save where the epoch stands; resume continues with batch b + 1.
                        state.elapsed = now()
                        state.dropoutRNG = dropouts.map(\.rng)
                        let url = store.url(step: state.step)
                        if isRoot {
                            try checkFinite(model, step: state.step)
                            try store.save(step: state.step, model: model, optimizer: optimizer.stateTensors(),
                                           optimizerMetadata: optimizerMetadata(),
                                           trainer: Saved(run: state, task: task.savedState()))
                        }
                        try comm.barrier()  // no rank leaves before rank 0 has saved
                        progress.say("\(StopSignal.name(signal)): saved \(url.path) (epoch \(epoch), batch \(b + 1) of \(batches)); "
                            + "continue with --resume")
                        throw TrainingError.interrupted(signal: signal, step: state.step, checkpoint: url.path)
                    }
                    progress.say("\(StopSignal.name(signal)): finishing epoch \(epoch) (\(batches - b - 1) batches left), then "
                        + "saving — this task resumes at epoch boundaries; a second signal stops at once, unsaved")
                    stopAtEpochEnd = signal
                } else if stopAtEpochEnd == nil, b + 1 == batches, let signal = try stopRequested(after: state.step, force: true) {
                    stopAtEpochEnd = signal
                }
                lossSum += out.loss * Double(out.globalUnits)
                units += out.units
                samples += out.samples
                if let c = out.correct { correct += c; counted = true }
                let secs = Date().timeIntervalSince(epochStart)
                progress.step(epoch: epoch, epochs: t.epochs, batch: b + 1, batches: batches,
                              samplesPerSec: Double(samples * world) / max(secs, 1e-9),
                              loss: lossSum / Double(max(units, 1)),  // this rank's estimate of the mean
                              lr: optimizer.learningRate, elapsed: secs)
            }
            try task.endEpoch(epoch)
            state.batch = 0
            let totals = try comm.allreduceSum([lossSum, Double(units), Double(samples), Double(correct)])
            let epochSeconds = Date().timeIntervalSince(epochStart)
            trainSamples += Int(totals[2]); trainSeconds += epochSeconds
            state.epoch = epoch
            state.dropoutRNG = dropouts.map(\.rng)
            let rate = totals[2] / max(epochSeconds, 1e-9)
            var train: [String: Double] = ["loss": totals[0] / max(totals[1], 1)]
            if counted { train["accuracy"] = totals[3] / max(totals[1], 1) }
            train = task.derivedMetrics(train)
            var line = String(format: "epoch %d/%d  train ", epoch, t.epochs) + Self.describe(train)
                + String(format: "  %.0f %@", rate, task.unit)
            if let c = closureOptimizer {
                // The objective's evaluations so far: what a line search costs.
                train["iterations"] = Double(c.iterations)
                train["evaluations"] = Double(c.evaluations)
                line += "  (\(c.iterations) iterations, \(c.evaluations) evaluations)"
            }
            try log(MetricRecord(step: state.step, epoch: epoch, split: "train", metrics: train,
                                         lr: Double(optimizer.learningRate), samplesPerSec: rate, time: now()))
            var improved = false
            if task.splits.contains(.validation) {
                let v = try task.evaluate(.validation)
                if let bad = v.sorted(by: { $0.key < $1.key }).first(where: { !$0.value.isFinite }) {
                    throw TrainingError.nonFiniteMetric(name: "validation_\(bad.key)", of: "the model at step \(state.step)")
                }
                let rec = MetricRecord(step: state.step, epoch: epoch, split: "validation", metrics: v, time: now())
                try log(rec)
                state.history.append(rec)
                line += "  val " + Self.describe(v)
                if let value = v[String(monitor.name.dropFirst("validation_".count))], monitor.name.hasPrefix("validation_") {
                    let delta = Double(t.earlyStopping?.minDelta ?? 0)
                    if monitor.direction.improves(value, on: state.best, delta: delta) {
                        state.best = value
                        state.bestStep = state.step
                        state.epochsWithoutImprovement = 0
                        improved = true
                    } else {
                        state.epochsWithoutImprovement += 1
                    }
                }
            }
            try task.epochEvaluated(epoch)
            for image in context.images.take() { tensorBoard?.add(image, step: state.step) }
            if config.logging.histograms { tensorBoard?.addHistograms(of: model.parameters, step: state.step) }
            try tensorBoard?.flush()
            state.elapsed = now()
            progress.say(line + String(format: "  [%@]", ProgressReporter.clock(state.elapsed)))
            // A full-batch second-order run ends where its optimizer met a tolerance (as scipy's minimize).
            let convergedNow = batches == 1 && converged != nil
            let stopNow = convergedNow || (t.earlyStopping.map { state.epochsWithoutImprovement >= $0.patience } ?? false)
            if isRoot && (epoch % max(1, config.checkpoint.everyEpochs) == 0 || epoch == lastEpoch || stopNow || improved
                          || stopAtEpochEnd != nil) {
                try checkFinite(model, step: state.step)
                lastCheckpoint = try store.save(step: state.step, model: model, optimizer: optimizer.stateTensors(),
                                                optimizerMetadata: optimizerMetadata(),
                                                trainer: Saved(run: state, task: task.savedState()), best: improved)
            }
            if let signal = stopAtEpochEnd, epoch < lastEpoch && !stopNow {
                let url = store.url(step: state.step)
                try comm.barrier()
                progress.say("\(StopSignal.name(signal)): saved \(url.path) (end of epoch \(epoch)); continue with --resume")
                throw TrainingError.interrupted(signal: signal, step: state.step, checkpoint: url.path)
            }
            if convergedNow, let reason = converged {
                progress.say("\(t.optimizer.kind) converged: \(reason)")
                break
            }
            if stopNow {
                progress.say("early stopping: \(monitor.name) has not improved for \(state.epochsWithoutImprovement) epochs")
                stoppedEarly = true
                break
            }
        }

        // Evaluate the weights the run stands by: the best checkpoint when early stopping
        // is on (restored here), else the final weights.
        var finalCheckpoint = lastCheckpoint
        var final: [String: Double] = [:]
        if t.earlyStopping != nil, let best = state.bestStep, best != state.step {
            let bestURL = store.url(step: best)
            if isRoot {
                let ckpt = try Checkpoint<Saved>.load(from: bestURL, as: Saved.self)
                try ModelState.apply(ckpt.model, to: model, file: ckpt.directory.path)
            }
            try broadcast(model)
            progress.say("restored the best weights (step \(best), \(monitor.name) "
                + String(format: "%.4f", state.best ?? .nan) + ")")
            finalCheckpoint = bestURL
            if let record = state.history.last(where: { $0.step == best }) {
                for (k, v) in record.metrics { final["validation_\(k)"] = v }
            }
        } else if let record = state.history.last {
            for (k, v) in record.metrics { final["validation_\(k)"] = v }
        }
        let end = task.splits.contains(.test) ? Split.test : Split.validation
        if task.splits.contains(end) {
            let m = try task.evaluate(end)
            if end == .test {
                try log(MetricRecord(step: state.step, epoch: state.epoch, split: "test", metrics: m, time: now()))
            }
            for (k, v) in m { final["\(end.rawValue)_\(k)"] = v }
        }
        try tensorBoard?.flush()
        // A classifier's validation figure is the best over the run (the test split gives the
        // final weights'); a task ending on its validation split reports that evaluation.
        if let best = state.best, end == .test { final[monitor.name] = best }
        let rate = trainSeconds > 0 ? Double(trainSamples) / trainSeconds : 0
        for (k, v) in task.summaryFields(metrics: final, samplesPerSec: rate) where final[k] == nil { final[k] = v }
        if let c = closureOptimizer {
            final["optimizer_iterations"] = Double(c.iterations)
            final["optimizer_evaluations"] = Double(c.evaluations)
        }
        let summary = RunSummary(name: config.name, task: taskName, epochs: state.epoch, steps: state.step, seconds: now(),
                                 samplesPerSec: rate,
                                 checkpoint: finalCheckpoint?.path ?? "", stoppedEarly: stoppedEarly,
                                 monitor: monitor.name, metrics: final)
        if isRoot {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(summary).write(to: context.runDirectory.appendingPathComponent("summary.json"))
        }
        for line in task.report(checkpoint: finalCheckpoint) { progress.say(line) }
        // `test accuracy 0.9057 (loss 0.2810) after …`: the task's metrics, the loss last.
        let shown = Task.metrics.filter { $0.name != "loss" }.compactMap { spec in
            final["\(end.rawValue)_\(spec.name)"].map { String(format: "%@ %.4f", spec.name.replacingOccurrences(of: "_", with: " "), $0) }
        } + [final["\(end.rawValue)_loss"].map { String(format: "(loss %.4f)", $0) }].compactMap { $0 }
        progress.say("\(end == .test ? "test" : "held-out") " + shown.joined(separator: " ")
            + " after \(state.epoch) epochs, \(state.step) steps, " + String(format: "%@ — %.0f %@",
                     ProgressReporter.clock(summary.seconds), summary.samplesPerSec, task.unit))
        progress.say("outputs: \(context.runDirectory.path)/ (metrics.jsonl, "
            + (tensorBoard != nil ? "tb/ for TensorBoard, " : "") + "summary.json, checkpoints/)")
        if let c = finalCheckpoint { progress.say("evaluate: phalanx evaluate --checkpoint \(c.path)") }
        return summary
    }

    /// Under mpirun the ranks compare stop requests every this many steps (one small
    /// allreduce each time; every step cost LeNet 2-4 % at 2 ranks).
    static var stopCheckInterval: Int { 8 }

    /// The signal that asks every rank to stop after this step, if any: rank-local
    /// requests are combined (the largest signal number wins) so all ranks agree.
    /// Alone, every step; under mpirun every `stopCheckInterval` steps (and at an epoch's end).
    private func stopRequested(after step: Int, force: Bool = false) throws -> Int32? {
        let mine = context.options.stopRequest.map { $0(step) } ?? StopSignal.pending
        guard comm.size > 1 else { return mine }
        guard force || step % Self.stopCheckInterval == 0 else { return nil }
        var s = [Double(mine ?? 0)]
        try s.withUnsafeMutableBufferPointer { try comm.allreduceMax($0) }
        return s[0] > 0 ? Int32(s[0]) : nil
    }

    /// A fresh run's weights from `init_from` (rank 0; the broadcast gives them to the others).
    private func initialize(_ model: Layer, from initFrom: InitFromConfig) throws {
        do {
            let (source, file) = try ModelState.source(initFrom.checkpoint)
            let report = try ModelState.initialize(model, from: source, file: file, config: initFrom)
            progress.say("init_from: \(report.loaded.count) tensors from \(file)"
                + (report.kept.isEmpty ? "" : "; initialised as configured (not in the source): " + report.kept.joined(separator: ", "))
                + (report.unused.isEmpty ? "" : "; not used: " + report.unused.joined(separator: ", ")))
        } catch {
            throw context.fail("init_from.checkpoint", "\(error)")
        }
    }

    /// Refuses to checkpoint a model whose parameters or buffers hold NaN or infinity,
    /// naming the first such tensor.
    private func checkFinite(_ model: Layer, step: Int) throws {
        for (name, t) in model.parameters.map({ ($0.name, $0.value) }) + model.buffers.map({ ($0.name, $0.value) }) {
            let p = UnsafeBufferPointer(start: t.data, count: t.count)
            var bad = false
            for x in p where !x.isFinite { bad = true; break }
            if bad { throw TrainingError.nonFiniteTensor(name: name, step: step) }
        }
    }

    /// `loss 0.1234 acc 0.9000`, in the order of the task's metrics.
    static func describe(_ m: [String: Double]) -> String {
        Task.metrics.compactMap { spec in m[spec.name].map { String(format: "%@ %.4f", spec.label, $0) } }
            .joined(separator: " ")
    }

    private func validate() throws {
        let t = config.train
        let fail = context.fail
        if t.epochs < 1 { throw fail("train.epochs", "must be at least 1, got \(t.epochs)") }
        if t.batchSize < 1 { throw fail("train.batch_size", "must be at least 1, got \(t.batchSize)") }
        if t.threads < 0 { throw fail("train.threads", "must not be negative") }
        if t.clipNorm < 0 { throw fail("train.clip_norm", "must not be negative") }
        if t.l1 < 0 { throw fail("train.l1", "must not be negative") }
        if t.l2 < 0 { throw fail("train.l2", "must not be negative") }
        if t.logEvery < 1 { throw fail("train.log_every", "must be at least 1, got \(t.logEvery)") }
        if !(t.optimizer.lr >= 0) || !t.optimizer.lr.isFinite { throw fail("train.optimizer.lr", "must be a non-negative number") }
        if config.checkpoint.keep < 1 { throw fail("checkpoint.keep", "must be at least 1") }
        if config.checkpoint.everyEpochs < 1 { throw fail("checkpoint.every_epochs", "must be at least 1") }
        if config.name.isEmpty || config.name.contains("/") || config.name == "." || config.name == ".." {
            throw fail("name", "must be a non-empty name without '/' (and not '.' or '..'), got '\(config.name)'")
        }
    }
}
