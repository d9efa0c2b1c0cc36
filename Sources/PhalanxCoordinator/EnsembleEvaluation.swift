// Evaluating an ensemble: each member's class probabilities on the test split, the soft
// and hard votes, the out-of-bag estimate and how often members disagree — a table on
// the terminal and `ensemble.json` beside the members.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN
import PhalanxTraining

/// The figures `phalanx ensemble` and `phalanx aggregate --mode soft-vote|hard-vote` report.
public struct EnsembleReport: Codable, Sendable {
    public struct Member: Codable, Sendable {
        public var name: String
        public var checkpoint: String
        public var testAccuracy: Double
        /// Vote weight (AdaBoost's α; 1 otherwise).
        public var weight: Double
        /// The member alone on the training samples it never drew (bagging).
        public var outOfBagAccuracy: Double?

        enum CodingKeys: String, CodingKey {
            case name, checkpoint, weight
            case testAccuracy = "test_accuracy", outOfBagAccuracy = "out_of_bag_accuracy"
        }
    }

    /// The ensemble's name and how its members differ (`seeds`, `bagging`, `adaboost`);
    /// `aggregate` for checkpoints combined by `phalanx aggregate`.
    public var name: String
    public var method: String
    public var members: [Member]
    /// `soft` or `hard`: which vote `accuracy` is.
    public var vote: String
    /// The ensemble's test accuracy with `vote`.
    public var accuracy: Double
    public var softVoteAccuracy: Double
    public var hardVoteAccuracy: Double
    public var bestMemberAccuracy: Double
    public var meanMemberAccuracy: Double
    public var outOfBag: OutOfBag.Estimate?
    /// Fraction of test samples on which not all members agree.
    public var disagreement: Double
    /// Mean over member pairs of the fraction of test samples they label differently.
    public var pairwiseDisagreement: Double
    public var testSamples: Int

    enum CodingKeys: String, CodingKey {
        case name, method, members, vote, accuracy, disagreement
        case softVoteAccuracy = "soft_vote_accuracy", hardVoteAccuracy = "hard_vote_accuracy"
        case bestMemberAccuracy = "best_member_accuracy", meanMemberAccuracy = "mean_member_accuracy"
        case outOfBag = "out_of_bag", pairwiseDisagreement = "pairwise_disagreement", testSamples = "test_samples"
    }

    /// The table printed at the end of `ensemble` and by `aggregate`.
    public var table: String {
        var lines = ["member            test acc    OOB acc   weight"]
        for m in members {
            let oob = m.outOfBagAccuracy.map { String(format: "%.4f", $0) } ?? "     -"
            lines.append(m.name.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "  %8.4f   %@   %6.3f", m.testAccuracy, oob, m.weight))
        }
        lines.append(String(format: "best member       %8.4f   (mean %.4f)", bestMemberAccuracy, meanMemberAccuracy))
        lines.append(String(format: "soft vote         %8.4f%@", softVoteAccuracy, vote == "soft" ? "   <- ensemble" : ""))
        lines.append(String(format: "hard vote         %8.4f%@", hardVoteAccuracy, vote == "hard" ? "   <- ensemble" : ""))
        if let o = outOfBag {
            lines.append(String(format: "out-of-bag        %8.4f   (ensemble estimate on the %d of %d training samples some member never drew)",
                                o.accuracy, o.covered, o.total))
        }
        lines.append(String(format: "disagreement      %8.4f   of %d test samples (pairwise %.4f)", disagreement, testSamples,
                            pairwiseDisagreement))
        return lines.joined(separator: "\n")
    }

    /// Writes the report as pretty JSON (atomically).
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.writeAtomically(Array(try encoder.encode(self)), to: url)
    }
}

/// Loads members and computes an `EnsembleReport`.
public enum EnsembleEvaluation {
    /// Evaluates the members at `checkpoints` (named `names`) on the test split of the first
    /// member's config; `weights` vote weights; `bootstrap` each member's bootstrap
    /// sample for the out-of-bag estimate (all or none).
    public static func evaluate(ensemble: String = "aggregate", method: String = "aggregate",
                                names: [String], checkpoints: [URL], weights: [Double]? = nil,
                                bootstrap: [BootstrapSample]? = nil, vote: String = "soft",
                                say: (String) -> Void = { _ in }) throws -> EnsembleReport {
        precondition(names.count == checkpoints.count && !names.isEmpty)
        let models = try checkpoints.map { try LoadedModel($0) }
        let data = try models[0].data()
        let classes = data.test.classCount
        var probabilities: [Tensor] = [], trainProbabilities: [Tensor] = []
        for (name, m) in zip(names, models) {
            say("evaluating \(name) (\(m.checkpoint.path))")
            probabilities.append(try m.probabilities(on: data.test))
            if bootstrap != nil { trainProbabilities.append(try m.probabilities(on: data.train)) }
        }
        let predictions = probabilities.map { Voting.argmax($0) }
        let memberAccuracy = predictions.map { Voting.accuracy($0, labels: data.test.labels) }
        let w = weights ?? Array(repeating: 1, count: models.count)
        let soft = Voting.soft(probabilities, weights: w)
        let softAccuracy = Voting.accuracy(Voting.argmax(soft), labels: data.test.labels)
        let hardAccuracy = Voting.accuracy(Voting.hard(predictions, classes: classes, weights: w, tieBreak: soft),
                                           labels: data.test.labels)
        var oob: OutOfBag.Estimate?
        var memberOOB: [Double?] = Array(repeating: nil, count: models.count)
        if let samples = bootstrap {
            if let bad = samples.first(where: { $0.trainCount != data.train.count }) {
                throw IncompatibleCheckpoints(message: "member \(bad.member + 1)'s bootstrap sample indexes a training split of "
                    + "\(bad.trainCount) samples, but the data now has \(data.train.count)")
            }
            oob = OutOfBag.estimate(probabilities: trainProbabilities, samples: samples, labels: data.train.labels, weights: w)
            for m in models.indices {
                let out = samples[m].outOfBag
                let predicted = Voting.argmax(trainProbabilities[m])
                memberOOB[m] = out.isEmpty ? nil
                    : Double(out.filter { predicted[$0] == Int(data.train.labels[$0]) }.count) / Double(out.count)
            }
        }
        let (anyMember, pairwise) = Voting.disagreement(predictions)
        return EnsembleReport(
            name: ensemble, method: method,
            members: models.indices.map {
                .init(name: names[$0], checkpoint: checkpoints[$0].path, testAccuracy: memberAccuracy[$0], weight: w[$0],
                      outOfBagAccuracy: memberOOB[$0])
            },
            vote: vote, accuracy: vote == "hard" ? hardAccuracy : softAccuracy,
            softVoteAccuracy: softAccuracy, hardVoteAccuracy: hardAccuracy,
            bestMemberAccuracy: memberAccuracy.max() ?? 0,
            meanMemberAccuracy: memberAccuracy.reduce(0, +) / Double(memberAccuracy.count),
            outOfBag: oob, disagreement: anyMember, pairwiseDisagreement: pairwise, testSamples: data.test.count)
    }
}
