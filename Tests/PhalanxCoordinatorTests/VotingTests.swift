import Foundation
import PhalanxCore
@testable import PhalanxCoordinator
import PhalanxTraining
import Testing

func tensor(_ rows: [[Float]]) -> Tensor {
    let t = Tensor(shape: [rows.count, rows[0].count])
    for (i, r) in rows.enumerated() { for (j, v) in r.enumerated() { t.data[i * r.count + j] = v } }
    return t
}

@Suite struct VotingTests {
    @Test func softVoteIsTheWeightedMeanOfProbabilities() {
        let a = tensor([[0.6, 0.4], [0.2, 0.8]]), b = tensor([[0.0, 1.0], [0.4, 0.6]])
        let equal = Voting.soft([a, b])
        #expect(abs(equal.data[0] - 0.3) < 1e-6 && abs(equal.data[1] - 0.7) < 1e-6)
        #expect(abs(equal.data[2] - 0.3) < 1e-6 && abs(equal.data[3] - 0.7) < 1e-6)
        let weighted = Voting.soft([a, b], weights: [3, 1])
        #expect(abs(weighted.data[0] - 0.45) < 1e-6 && abs(weighted.data[1] - 0.55) < 1e-6)
        #expect(Voting.argmax(weighted) == [1, 1])
        #expect(Voting.argmax(Voting.soft([a])) == [0, 1])
    }

    @Test func hardVoteIsTheMajority() {
        let votes = [[0, 1, 2], [0, 2, 2], [1, 1, 0]]
        #expect(Voting.hard(votes, classes: 3) == [0, 1, 2])
        // Weights can overturn a majority: member 2 alone outweighs the others.
        #expect(Voting.hard(votes, classes: 3, weights: [1, 1, 3]) == [1, 1, 0])
    }

    @Test func hardVoteTiesAreBrokenByProbabilityThenByClassIndex() {
        // Two members, one vote each for classes 2 and 1: a tie.
        let votes = [[2, 0], [1, 0]]
        #expect(Voting.hard(votes, classes: 3) == [1, 0], "without scores the smaller class wins")
        let soft = tensor([[0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
        #expect(Voting.hard(votes, classes: 3, tieBreak: soft) == [2, 0], "the larger mean probability wins")
        // A three-way tie with equal scores falls back to the smallest class.
        #expect(Voting.hard([[2], [1], [0]], classes: 3, tieBreak: tensor([[0.2, 0.4, 0.4]])) == [1])
        // Argmax ties go to the first class too, every time.
        #expect(Voting.argmax(tensor([[0.5, 0.5]])) == [0])
    }

    @Test func disagreementCountsSamplesAndPairs() {
        let d = Voting.disagreement([[0, 1, 2, 3], [0, 1, 2, 0], [0, 2, 2, 0]])
        #expect(abs(d.anyMember - 0.5) < 1e-12)          // samples 1 and 3
        #expect(abs(d.pairwise - (0.25 + 0.5 + 0.25) / 3) < 1e-12)
        #expect(Voting.disagreement([[1, 2]]).anyMember == 0)
        #expect(Voting.accuracy([0, 1, 1], labels: [0, 1, 2]) == 2.0 / 3)
    }
}

@Suite struct BaggingTests {
    @Test func bootstrapIndicesAndOutOfBagPartitionTheSplit() {
        let s = BootstrapSample(member: 2, seed: 9, trainCount: 1000, fraction: 1)
        #expect(s.indices.count == 1000)
        #expect(s == BootstrapSample(member: 2, seed: 9, trainCount: 1000, fraction: 1), "seeded: the same draw again")
        #expect(s.indices != BootstrapSample(member: 3, seed: 9, trainCount: 1000, fraction: 1).indices)
        let bag = Set(s.indices), out = s.outOfBag
        #expect(out.allSatisfy { !bag.contains($0) })
        #expect(bag.count + out.count == 1000, "every sample is in the bag or out of it")
        // About e^-1 of the samples are left out of a full-size bootstrap.
        #expect(abs(Double(out.count) / 1000 - exp(-1)) < 0.05)
        #expect(BootstrapSample(member: 0, seed: 9, trainCount: 1000, fraction: 0.5).indices.count == 500)
        // Kept as JSON and read back unchanged.
        let decoded = try! JSONDecoder().decode(BootstrapSample.self, from: JSONEncoder().encode(s))
        #expect(decoded == s)
    }

    @Test func outOfBagVotesOnlyWithMembersThatLeftTheSampleOut() {
        // 4 samples, 2 classes. Member 0 drew samples 0 and 1; member 1 drew 1 and 2.
        var a = BootstrapSample(member: 0, seed: 1, trainCount: 4, fraction: 1)
        a.indices = [0, 1, 1, 0]
        var b = BootstrapSample(member: 1, seed: 1, trainCount: 4, fraction: 1)
        b.indices = [2, 1, 2, 2]
        let pa = tensor([[0.9, 0.1], [0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
        let pb = tensor([[0.1, 0.9], [0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
        let labels: [Int32] = [1, 0, 0, 0]
        let e = OutOfBag.estimate(probabilities: [pa, pb], samples: [a, b], labels: labels)
        // Sample 0: only b (says 1, right). Sample 1: in both bags, left out. Sample 2: only a
        // (says 0, right). Sample 3: both: mean (0.45, 0.55) says 1, wrong.
        #expect(e.covered == 3 && e.total == 4)
        #expect(abs(e.accuracy - 2.0 / 3) < 1e-12)
    }
}

@Suite struct AdaBoostTests {
    @Test func sammeUpdateMatchesTheHandComputedAnswer() {
        // Four samples with equal weights, three classes, the member misses the last one:
        // ε = 1/4, α = ln((1 − ε)/ε) + ln(K − 1) = ln 3 + ln 2 = ln 6, and the missed
        // sample's weight is multiplied by 6: (1, 1, 1, 6)/9.
        let u = AdaBoost.update(weights: [0.25, 0.25, 0.25, 0.25], correct: [true, true, true, false], classes: 3)
        #expect(abs(u.error - 0.25) < 1e-12)
        #expect(abs(u.alpha - log(6.0)) < 1e-12)
        let expected = [1.0, 1, 1, 6].map { $0 / 9 }
        for (w, e) in zip(u.weights, expected) { #expect(abs(w - e) < 1e-12) }
        // After the update the member's weighted error is 1 − 1/K: exactly chance for SAMME.
        let again = AdaBoost.update(weights: u.weights, correct: [true, true, true, false], classes: 3)
        #expect(abs(again.error - 2.0 / 3) < 1e-12 && abs(again.alpha) < 1e-9)
    }

    @Test func noBetterThanChanceGetsNoVote() {
        let u = AdaBoost.update(weights: [0.5, 0.5], correct: [true, false], classes: 2)
        #expect(u.alpha == 0 && u.weights == [0.5, 0.5])
        let perfect = AdaBoost.update(weights: [0.5, 0.5], correct: [true, true], classes: 2)
        #expect(perfect.error == 0 && perfect.alpha.isFinite && perfect.alpha > 20)
    }

    @Test func resamplingFollowsTheWeights() {
        var rng = RNG(seed: 4)
        #expect(Set(AdaBoost.resample(weights: [0, 1, 0], count: 50, rng: &rng)) == [1])
        let draws = AdaBoost.resample(weights: [0.25, 0.75], count: 20_000, rng: &rng)
        let ones = Double(draws.filter { $0 == 1 }.count) / 20_000
        #expect(abs(ones - 0.75) < 0.02)
    }
}

@Suite struct SweepPlanTests {
    func fail(_ key: String, _ message: String) -> ConfigError { ConfigError(file: "sweep.yaml", key: key, message) }

    @Test func gridIsEveryCombinationInKeyOrder() throws {
        var s = SweepConfig()
        s.parameters = ["train.optimizer.lr": .init(logUniform: [0.001, 0.1], steps: 3),
                        "train.batch_size": .init(values: ["64", "128"])]
        let trials = try SweepPlan.trials(s, seed: 1, fail: fail)
        #expect(trials.count == 6)
        #expect(trials.map(\.name) == (1...6).map { String(format: "trial-%03d", $0) })
        #expect(trials[0].overrides == ["train.batch_size=64", "train.optimizer.lr=0.001"])
        #expect(trials[1].overrides == ["train.batch_size=64", "train.optimizer.lr=0.01"])
        #expect(trials[5].overrides == ["train.batch_size=128", "train.optimizer.lr=0.1"])
        s.parameters["train.optimizer.momentum"] = .init(uniform: [0.5, 0.9], steps: 3)
        let more = try SweepPlan.trials(s, seed: 1, fail: fail)
        #expect(more.count == 18)
        #expect(Set(more.map { $0.values["train.optimizer.momentum"]! }) == ["0.5", "0.7", "0.9"])
    }

    @Test func randomDrawsAreSeededAndInRange() throws {
        var s = SweepConfig()
        s.method = "random"
        s.trials = 400
        s.parameters = ["train.optimizer.lr": .init(logUniform: [0.0001, 1]),
                        "train.epochs": .init(uniform: [1, 10], integer: true),
                        "train.optimizer.kind": .init(values: ["sgd", "adam"])]
        let a = try SweepPlan.trials(s, seed: 7, fail: fail)
        #expect(a == (try SweepPlan.trials(s, seed: 7, fail: fail)))
        #expect(a != (try SweepPlan.trials(s, seed: 8, fail: fail)))
        let lrs = a.map { Double($0.values["train.optimizer.lr"]!)! }
        #expect(lrs.allSatisfy { $0 >= 0.0001 && $0 <= 1 })
        // Log-uniform: each decade equally likely, so about half lie below 0.01.
        let below = Double(lrs.filter { $0 < 0.01 }.count) / Double(lrs.count)
        #expect(abs(below - 0.5) < 0.08)
        let epochs = a.map { Int($0.values["train.epochs"]!)! }
        #expect(epochs.allSatisfy { (1...10).contains($0) })
        #expect(Set(a.map { $0.values["train.optimizer.kind"]! }) == ["sgd", "adam"])
    }

    @Test func badSweepsNameTheKey() {
        var s = SweepConfig()
        s.parameters = ["train.optimizer.lr": .init(uniform: [0.1, 0.2])]
        #expect { try SweepPlan.trials(s, seed: 1, fail: fail) } throws: { "\($0)".contains("steps") }
        s.parameters = ["train.optimizer.lr": .init(logUniform: [0, 0.2])]
        s.method = "random"
        #expect { try SweepPlan.trials(s, seed: 1, fail: fail) } throws: { "\($0)".contains("train.optimizer.lr.log_uniform") }
        s.method = "bayes"
        s.parameters = ["train.optimizer.lr": .init(values: ["0.1"])]
        #expect { try SweepPlan.trials(s, seed: 1, fail: fail) } throws: { "\($0)".contains("sweep.method") }
    }
}

@Suite struct WeightAveragingTests {
    func state(_ values: [Float], extra: String? = nil, shape: [Int] = [2]) -> SafeTensors {
        var s = SafeTensors()
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = values[i % values.count] }
        s.entries["fc.weight"] = .init(t)
        let steps = Tensor(shape: [])
        steps.data[0] = values[0]
        s.entries["bn.num_batches_tracked"] = .init(steps, dtype: .i64)
        if let extra { s.entries[extra] = .init(Tensor(shape: [1])) }
        return s
    }

    @Test func averagesFloatTensorsAndKeepsCounters() throws {
        let avg = try WeightAveraging.average([("a", state([1, 2])), ("b", state([3, 6]))])
        #expect(avg["fc.weight"]!.data[0] == 2 && avg["fc.weight"]!.data[1] == 4)
        #expect(avg["bn.num_batches_tracked"]!.data[0] == 1, "integer buffers come from the first")
        #expect(avg.entries["bn.num_batches_tracked"]!.dtype == .i64)
        let weighted = try WeightAveraging.average([("a", state([1, 2])), ("b", state([3, 6]))], weights: [3, 1])
        #expect(weighted["fc.weight"]!.data[0] == 1.5 && weighted["fc.weight"]!.data[1] == 3)
    }

    @Test func refusesIncompatibleCheckpointsNamingTheTensor() {
        #expect { try WeightAveraging.average([("a", state([1])), ("b", state([1], extra: "fc.bias"))]) }
            throws: { "\($0)".contains("'fc.bias'") && "\($0)".contains("b") }
        #expect { try WeightAveraging.average([("a", state([1], extra: "conv.weight")), ("b", state([1]))]) }
            throws: { "\($0)".contains("b has no tensor 'conv.weight'") }
        #expect { try WeightAveraging.average([("a", state([1])), ("b", state([1], shape: [3]))]) }
            throws: { "\($0)".contains("tensor 'fc.weight'") && "\($0)".contains("[3]") }
    }
}
