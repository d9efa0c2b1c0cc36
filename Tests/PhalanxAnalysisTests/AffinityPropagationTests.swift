import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct AffinityPropagationTests {
    /// scikit-learn 1.9.1 `AffinityPropagation(damping=…, preference=…, random_state=0)` on
    /// the 40 points of `KMedoidsTests.small` (float32): the same exemplars and labels.
    @Test(arguments: [0.5, 0.9])
    func matchesScikitLearn(damping: Double) throws {
        let x = try Matrix(rows: 40, cols: 2, values: KMedoidsTests.small)
        var options = AffinityPropagation.Options()
        options.damping = damping
        let median = try AffinityPropagation.fit(x, options)
        #expect(median.converged)
        #expect(abs(median.preference - -14.2138) < 1e-3)
        #expect(median.exemplars == [14, 25, 27, 32, 33])
        #expect(median.labels == [2, 0, 4, 4, 2, 1, 1, 4, 0, 0, 3, 3, 0, 1, 0, 3, 3, 1, 2, 0, 3, 2, 1, 3, 1, 1, 3,
                                  2, 3, 3, 3, 1, 3, 4, 3, 3, 2, 0, 2, 0])
        options.preference = .value(-20)
        let fixed = try AffinityPropagation.fit(x, options)
        #expect(fixed.exemplars == [14, 22, 27, 32])
        #expect(fixed.labels == [2, 0, 1, 1, 2, 2, 1, 1, 0, 0, 3, 3, 0, 1, 0, 3, 3, 2, 2, 0, 3, 2, 1, 3, 1, 1, 3,
                                 2, 3, 3, 3, 1, 3, 1, 3, 3, 2, 0, 2, 0])
        #expect(fixed.labels == (try fixed.predict(x)))
    }

    /// Four tight blobs (σ = 0.5) 10 apart: four clusters, labelled as the truth.
    @Test func findsBlobs() throws {
        var rng = RNG(seed: 21)
        let centres: [(Float, Float)] = [(0, 0), (10, 0), (0, 10), (10, 10)]
        var v: [Float] = [], truth: [Int] = []
        for (c, centre) in centres.enumerated() {
            for _ in 0..<30 { v += [centre.0 + 0.5 * rng.normal(), centre.1 + 0.5 * rng.normal()]; truth.append(c) }
        }
        let x = try Matrix(rows: 120, cols: 2, values: v)
        var options = AffinityPropagation.Options()
        options.preference = .value(-50)
        let result = try AffinityPropagation.fit(x, options)
        #expect(result.converged)
        #expect(result.exemplars.count == 4)
        var naming = [Int: Int]()
        for i in 0..<120 {
            if let c = naming[result.labels[i]] { #expect(c == truth[i]) } else { naming[result.labels[i]] = truth[i] }
        }
        #expect(Set(naming.values).count == 4)
    }

    @Test func reportsNonConvergence() throws {
        let x = try Matrix(rows: 40, cols: 2, values: KMedoidsTests.small)
        var options = AffinityPropagation.Options()
        options.maxIter = 10  // fewer than convergenceIter: cannot settle
        let result = try AffinityPropagation.fit(x, options)
        #expect(!result.converged && result.iterations == 10)
        if result.exemplars.isEmpty { #expect(result.labels.allSatisfy { $0 == -1 }) }
        else { #expect(result.labels.allSatisfy { $0 >= 0 && $0 < result.exemplars.count }) }
    }

    /// Two samples: every similarity equal, so no messages are passed (scikit-learn 1.9.1:
    /// the median preference −0.5 and 0 give two clusters, −2 gives one).
    @Test func degenerateInputs() throws {
        let pair = try Matrix(rows: 2, cols: 1, values: [0, 1])
        let median = try AffinityPropagation.fit(pair, AffinityPropagation.Options())
        #expect(median.exemplars == [0, 1] && median.labels == [0, 1] && median.preference == -0.5)
        var options = AffinityPropagation.Options()
        options.preference = .value(-2)
        let one = try AffinityPropagation.fit(pair, options)
        #expect(one.exemplars == [0] && one.labels == [0, 0])
        let single = try AffinityPropagation.fit(try Matrix(rows: 1, cols: 3, values: [1, 2, 3]), AffinityPropagation.Options())
        #expect(single.exemplars == [0] && single.labels == [0])
    }

    @Test func refusesBadOptions() throws {
        let x = try Matrix(rows: 40, cols: 2, values: KMedoidsTests.small)
        for damping in [0.4, 1.0] {
            var options = AffinityPropagation.Options()
            options.damping = damping
            #expect(throws: AnalysisError.option("--damping", "must be in [0.5, 1), got \(damping)")) {
                try AffinityPropagation.fit(x, options)
            }
        }
        var options = AffinityPropagation.Options()
        options.maxPoints = 39
        do {
            _ = try AffinityPropagation.fit(x, options)
            Issue.record("over --max-points accepted")
        } catch {
            #expect(error.option == "--max-points" && error.message.contains("GiB"))
        }
        var bad = x
        bad[0, 1] = .nan
        #expect(throws: AnalysisError.self) { try AffinityPropagation.fit(bad, AffinityPropagation.Options()) }
    }
}
