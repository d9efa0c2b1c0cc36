// What the "N ranks = 1 process" checks of tasks share: the data section of the band
// images writeData made, and one run on the ranks (stopped and resumed, when asked)
// beside the same config trained alone on rank 0.
import Foundation
import PhalanxDistributed
import PhalanxTraining

extension MPIChecks {
    /// The `data:` flow mapping of the generated band images in `dir`, plus `extra` keys.
    static func idxData(_ dir: String, extra: String = "") -> String {
        "{dataset: idx, directory: \(dir), train_images: train-images-idx3-ubyte.gz, "
            + "train_labels: train-labels-idx1-ubyte.gz, test_images: t10k-images-idx3-ubyte.gz, "
            + "test_labels: t10k-labels-idx1-ubyte.gz" + (extra.isEmpty ? "" : ", " + extra) + "}"
    }

    /// A run on the ranks beside the same experiment alone, and how far their weights lie apart.
    struct RanksAndAlone {
        var parallel: RunSummary
        /// Rank 0 only.
        var alone: RunSummary?
        var worst = (name: "", relative: 0.0)
        var whole = 0.0
    }

    /// Trains `yaml("<prefix>-ranks")` on every rank — stopped after `stopAfter` epochs and
    /// resumed when given — then, on rank 0, `yaml("<prefix>-alone")` in one process, and
    /// compares their latest checkpoints under `<dir>/runs`.
    static func ranksAndAlone(_ world: Communicator, dir: String, prefix: String, stopAfter: Int? = nil,
                              yaml: (String) -> String) throws -> RanksAndAlone {
        var quiet = TrainOptions()
        quiet.quiet = true
        let ranks = try ConfigLoader.load(yaml: yaml("\(prefix)-ranks"))
        let kind = try TaskRegistry.kind(of: ranks)
        var parallel: RunSummary
        if let stopAfter {
            var half = quiet
            half.stopAfterEpochs = stopAfter
            var resume = quiet
            resume.resume = true
            _ = try kind.train(ranks, options: half, communicator: world)
            parallel = try kind.train(ranks, options: resume, communicator: world)
        } else {
            parallel = try kind.train(ranks, options: quiet, communicator: world)
        }
        var out = RanksAndAlone(parallel: parallel)
        guard world.rank == 0 else { return out }
        let single = try ConfigLoader.load(yaml: yaml("\(prefix)-alone"))
        out.alone = try TaskRegistry.kind(of: single).train(single, options: quiet)
        let a = try latestModel(dir, "\(prefix)-ranks"), b = try latestModel(dir, "\(prefix)-alone")
        out.worst = largestDifference(a, b)
        out.whole = modelDifference(a, b)
        return out
    }
}
