// L-BFGS under mpirun: every rank evaluates its share of the one full batch, loss and
// gradient are allreduced sums, so every rank takes the same line-search decisions.
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxTraining

extension MPIChecks {
    /// A small MLP trained full-batch by L-BFGS on N ranks (stopped after 2 steps and
    /// resumed) ends with the weights and the evaluation count of one process. Four
    /// steps of 3 iterations: the band images are separable, the weights keep growing, and
    /// over 20 iterations the ranks' summation order alone moved them 1e-5 apart (with the
    /// same decisions and evaluation count).
    static func lbfgs(_ world: Communicator) throws -> [String] {
        let train = 1200 / world.size * world.size
        let dir = try writeData(world, train: train, test: 200)
        defer { removeData(world, dir) }
        func yaml(_ name: String) -> String {
            """
            name: \(name)
            seed: 11
            data: \(idxData(dir, extra: "validation: 0, normalize: scale"))
            model:
              input: [1, 28, 28]
              layers:
                - {kind: flatten}
                - {kind: linear, name: fc1, out: 16}
                - {kind: tanh}
                - {kind: linear, name: fc2, out: 10}
            train:
              epochs: 4
              batch_size: \(train)
              l2: 0.0005
              optimizer: {kind: lbfgs, max_iter: 3, history_size: 5}
              threads: 1
            checkpoint: {directory: \(dir)/runs, keep: 2}
            """
        }
        let run = try ranksAndAlone(world, dir: dir, prefix: "lbfgs", stopAfter: 2, yaml: yaml)
        var bad: [String] = []
        if let alone = run.alone {
            let parallel = run.parallel, worst = run.worst, whole = run.whole
            let evaluations = (parallel.metrics["optimizer_evaluations"] ?? -1, alone.metrics["optimizer_evaluations"] ?? -2)
            print(String(format: "     lbfgs: %d ranks (resumed after step 2) vs 1 process: relative difference %.2e over all weights, "
                         + "largest %.2e (%@); %.0f vs %.0f evaluations; test accuracy %.4f vs %.4f", world.size, whole,
                         worst.relative, worst.name, evaluations.0, evaluations.1, parallel.metrics["test_accuracy"] ?? .nan,
                         alone.metrics["test_accuracy"] ?? .nan))
            if whole > 1e-5 { bad.append("weights differ by \(whole) relative over the model") }
            if worst.relative > 1e-4 { bad.append("weights differ: \(worst.name) by \(worst.relative) relative") }
            if evaluations.0 != evaluations.1 { bad.append("\(evaluations.0) evaluations vs \(evaluations.1) alone") }
            if parallel.steps != alone.steps { bad.append("steps \(parallel.steps) vs \(alone.steps)") }
        }
        return try sharingVerdict(world, bad)
    }
}
