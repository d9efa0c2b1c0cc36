// `phalanx ensemble`: trains K members that differ by seed, by architecture or by data
// (bagging, AdaBoost), in parallel rank groups under mpirun, each a normal run with its
// own checkpoints; then evaluates them together.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxTraining

/// Trains and evaluates the ensemble an `ensemble:` section describes.
///
/// Member i (from 0) is the base experiment named `member-<i+1>` with seed `seed + i`,
/// the model `ensemble.models[i % count]` when a list is given, and the ensemble's
/// training split (`data.split_seed` = the ensemble's seed). Its run directory is
/// `<checkpoint.directory>/<name>/member-<i+1>/`; `ensemble.json` goes beside them.
public final class EnsembleRunner: Coordinator {
    private var ensemble: EnsembleConfig { config.ensemble! }

    public func memberName(_ i: Int) -> String { "member-\(i + 1)" }

    /// The experiment member `i` runs.
    public func memberConfig(_ i: Int) throws -> LoadedConfig {
        let copy = ensemble.models.isEmpty ? [] : [(from: "ensemble.models.\(i % ensemble.models.count)", to: "model")]
        return try loaded.derived(copying: copy, overrides: [
            "name=\(memberName(i))", "seed=\(config.seed &+ UInt64(i))",
            "checkpoint.directory=\(directory.path)", "data.split_seed=\(config.data.splitSeed ?? config.seed)",
        ], removing: ["ensemble", "sweep"])
    }

    /// Trains the unfinished members and, on rank 0, evaluates the ensemble (nil on
    /// other ranks). Throws `UnfinishedJobs` when members failed.
    @discardableResult
    public func run() throws -> EnsembleReport? {
        try validate()
        let e = ensemble
        let method = e.method
        let groups = try RankGroups(world: world, requested: method == "adaboost" ? 1 : e.groups, jobs: e.members)
        if config.train.threads > 0 { Parallel.threads = config.train.threads }
        // The training split every member shares (bootstrap indices point into it).
        let base = try memberConfig(0)
        let data = try TrainingData.load(base.config, fail: base.error)
        say("\(config.name): \(e.members) members (\(method)) on \(data.train.count) training samples"
            + (world.size > 1 ? "; \(world.size) ranks in \(groups.count) group\(groups.count == 1 ? "" : "s")" : "")
            + "; outputs in \(directory.path)/")
        var failures: [String: String] = [:]
        var rounds: [AdaBoost.Round] = []
        if method == "adaboost" {
            rounds = try boost(data: data, groups: groups)
        } else {
            for i in groups.jobs(of: e.members) {
                try groups.run(memberName(i), failures: &failures) {
                    var indices: [Int]?
                    if method == "bagging" {
                        let sample = try bootstrap(i, trainCount: data.train.count, write: groups.isGroupRoot)
                        indices = sample.indices
                    }
                    try train(i, indices: indices, groups: groups)
                }
            }
        }
        let failed = try groups.gather(failures)
        guard failed.isEmpty else {
            throw UnfinishedJobs(failures: failed, retry: "rerun with --resume to train only the unfinished members")
        }
        try world.barrier()
        guard world.rank == 0 else { return nil }

        // Evaluate every member that has a vote.
        var members = Array(0..<e.members)
        var weights: [Double]?
        if method == "adaboost" {
            members = rounds.filter { $0.alpha > 0 }.map(\.member)
            weights = rounds.filter { $0.alpha > 0 }.map(\.alpha)
            guard !members.isEmpty else {
                throw IncompatibleCheckpoints(message: "no member did better than chance; nothing to vote")
            }
        }
        let checkpoints = try members.map { try finishedCheckpoint($0) }
        let samples = method == "bagging" ? try members.map { try bootstrap($0, trainCount: data.train.count, write: false) } : nil
        let report = try EnsembleEvaluation.evaluate(ensemble: config.name, method: method, names: members.map(memberName), checkpoints: checkpoints,
                                                     weights: weights, bootstrap: samples,
                                                     vote: method == "adaboost" ? "hard" : e.vote, say: say)
        let out = directory.appendingPathComponent("ensemble.json")
        try report.write(to: out)
        say(report.table)
        say("wrote \(out.path)")
        return report
    }

    // MARK: Members

    /// The checkpoint a finished member stands by (its summary's), or nil if unfinished.
    public func finishedCheckpointIfAny(_ i: Int) -> URL? {
        finishedSummary(memberName(i)).map { URL(fileURLWithPath: $0.checkpoint) }
    }

    private func finishedCheckpoint(_ i: Int) throws -> URL {
        guard let url = finishedCheckpointIfAny(i) else {
            throw IncompatibleCheckpoints(message: "\(memberName(i)) has no finished run in \(directory.path)")
        }
        return url
    }

    /// Trains member `i` in this rank's group (skipped when resuming and it finished).
    private func train(_ i: Int, indices: [Int]?, groups: RankGroups) throws {
        try train(memberName(i), try memberConfig(i), indices: indices,
                  note: "training" + (indices.map { " on \($0.count) resampled samples" } ?? ""), groups: groups)
    }

    /// Member `i`'s bootstrap sample: drawn from `(seed, i)`, written as
    /// `member-<i+1>/bootstrap.json` (when `write`), or read back and checked.
    private func bootstrap(_ i: Int, trainCount: Int, write: Bool) throws -> BootstrapSample {
        let sample = BootstrapSample(member: i, seed: config.seed, trainCount: trainCount, fraction: ensemble.sampleFraction)
        let url = directory.appendingPathComponent(memberName(i)).appendingPathComponent("bootstrap.json")
        if let bytes = try? Data(contentsOf: url) {
            guard let saved = try? JSONDecoder().decode(BootstrapSample.self, from: bytes) else {
                throw IncompatibleCheckpoints(message: "\(url.path): not a bootstrap sample (unreadable JSON); delete it to draw again")
            }
            guard saved == sample else {
                throw IncompatibleCheckpoints(message: "\(url.path) holds another bootstrap sample (seed \(saved.seed), "
                    + "\(saved.trainCount) training samples, \(saved.indices.count) draws) than this config gives; "
                    + "use a new ensemble name or delete the member")
            }
            return saved
        }
        if write {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try DurableFile.writeAtomically(Array(try encoder.encode(sample)), to: url)
        }
        return sample
    }

    // MARK: Boosting

    /// SAMME: member m trains on a resample drawn by the current weights; its errors on
    /// the whole training split give α and the next weights. The whole world trains each
    /// member (data-parallel); every rank computes the same weights.
    private func boost(data: TrainingData, groups: RankGroups) throws -> [AdaBoost.Round] {
        let n = data.train.count
        let size = max(1, Int((ensemble.sampleFraction * Double(n)).rounded()))
        var weights = [Double](repeating: 1 / Double(n), count: n)
        var rounds: [AdaBoost.Round] = []
        for m in 0..<ensemble.members {
            var rng = RNG(seed: config.seed, stream: 0x424F_4F53_5400_0000 &+ UInt64(m))  // "BOOST"
            let indices = AdaBoost.resample(weights: weights, count: size, rng: &rng)
            var ignored: [String: String] = [:]
            try groups.run(memberName(m), failures: &ignored) { try train(m, indices: indices, groups: groups) }
            if let failure = ignored.first {
                throw JobFailure(name: failure.key, message: failure.value + " (boosting needs every member in turn; rerun with --resume)")
            }
            try world.barrier()
            let model = try LoadedModel(try finishedCheckpoint(m))
            let predicted = Voting.argmax(try model.probabilities(on: data.train))
            let correct = (0..<n).map { predicted[$0] == Int(data.train.labels[$0]) }
            let update = AdaBoost.update(weights: weights, correct: correct, classes: data.train.classCount)
            rounds.append(.init(member: m, error: update.error, alpha: update.alpha))
            say(String(format: "%@: weighted training error %.4f, vote α %.4f", memberName(m), update.error, update.alpha))
            if update.alpha <= 0 {
                say("boosting stops: \(memberName(m)) is no better than chance on the weighted data")
                break
            }
            weights = update.weights
        }
        if world.rank == 0 {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try DurableFile.writeAtomically(Array(try encoder.encode(rounds)), to: directory.appendingPathComponent("boosting.json"))
        }
        return rounds
    }

    private func validate() throws {
        guard let e = config.ensemble else {
            throw loaded.error("ensemble", "this config has no 'ensemble:' section (members, method, …); see configs/fashion-lenet-bagged.yaml")
        }
        let fail = loaded.error
        if e.members < 1 { throw fail("ensemble.members", "must be at least 1, got \(e.members)") }
        if !["seeds", "bagging", "adaboost"].contains(e.method) {
            throw fail("ensemble.method", "unknown method '\(e.method)'; known: seeds, bagging, adaboost")
        }
        if !(e.sampleFraction > 0 && e.sampleFraction <= 1) {
            throw fail("ensemble.sample_fraction", "must lie in (0, 1], got \(e.sampleFraction)")
        }
        if e.groups < 0 { throw fail("ensemble.groups", "must not be negative") }
        if !["soft", "hard"].contains(e.vote) { throw fail("ensemble.vote", "unknown vote '\(e.vote)'; known: soft, hard") }
        let kind = try TaskRegistry.kind(of: config, fail: fail)
        if !kind.ensembles {
            let key = config.task == nil ? "data.dataset" : "task"
            throw fail(key, "ensembles vote with class probabilities: the \(kind.name) task has none (ensembles of "
                + TaskRegistry.all.filter(\.ensembles).map(\.name).joined(separator: ", ") + " tasks are supported)")
        }
        if config.name.isEmpty || config.name.contains("/") { throw fail("name", "must be a non-empty name without '/'") }
    }
}
