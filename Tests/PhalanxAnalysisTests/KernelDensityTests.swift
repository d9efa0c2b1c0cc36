import Foundation
import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct KernelDensityTests {
    /// Exact values from scikit-learn 1.9 (KernelDensity(bandwidth=0.7) on three 2-D points;
    /// a far query checks that the log-sum-exp does not underflow).
    @Test func matchesScikitLearnExactly() throws {
        let x = try Matrix(rows: 3, cols: 2, values: [0, 0, 1, 2, 3, 1])
        var options = KernelDensity.Options()
        options.bandwidth = .value(0.7)
        let kde = try KernelDensity.fit(x, options)
        let got = try kde.scoreSamples(try Matrix(rows: 2, cols: 2, values: [0.5, 0.5, 10, 10]))
        #expect(abs(got[0] - -2.60925538) < 1e-7)
        #expect(abs(got[1] - -134.87620047) < 1e-6)
    }

    /// N(0, 1) samples: the estimate at 0 is near the smoothed density N(0, 1 + h²) there,
    /// log = −½·log(2π(1 + h²)) (−0.9386 for h = 0.2), and the density integrates to 1.
    @Test func gaussianSamples() throws {
        var rng = RNG(seed: 7)
        let x = try Matrix(rows: 2000, cols: 1, values: (0..<2000).map { _ in rng.normal() })
        var options = KernelDensity.Options()
        options.bandwidth = .value(0.2)
        let kde = try KernelDensity.fit(x, options)
        let at0 = try kde.scoreSamples(try Matrix(rows: 1, cols: 1, values: [0]))[0]
        #expect(abs(at0 - -0.5 * log(2 * Double.pi * 1.04)) < 0.06)
        let step = 0.01
        let grid = try Matrix(rows: 1601, cols: 1, values: (0..<1601).map { Float(-8 + step * Double($0)) })
        let p = try kde.scoreSamples(grid).map(exp)
        let integral = step * (p.reduce(0, +) - 0.5 * (p[0] + p[1600]))
        #expect(abs(integral - 1) < 1e-3)
    }

    /// Scott n^(−1/(d+4)) and Silverman (n(d+2)/4)^(−1/(d+4)) for n = 100, d = 3.
    @Test func bandwidthRules() throws {
        let x = try Matrix(rows: 100, cols: 3, values: (0..<300).map { Float($0 % 17) })
        var options = KernelDensity.Options()
        options.bandwidth = try KernelDensity.Bandwidth("scott")
        #expect(abs(try KernelDensity.fit(x, options).bandwidth - 0.5179474679231212) < 1e-14)
        options.bandwidth = try KernelDensity.Bandwidth("silverman")
        #expect(abs(try KernelDensity.fit(x, options).bandwidth - 0.5016969106227039) < 1e-14)
        #expect(try KernelDensity.Bandwidth("0.25") == .value(0.25))
        #expect(throws: AnalysisError.self) { try KernelDensity.Bandwidth("wide") }
        #expect(throws: AnalysisError.self) { try KernelDensity.Bandwidth("-1") }
    }

    /// GridSearchCV(KernelDensity(), {'bandwidth': logspace(-1, 1, 20)}, cv=5) on
    /// x_i = 2·sin(1.7i) + cos(0.3i), i < 60, picks index 8 (h = 0.695…) with mean fold
    /// score −22.5896 (scikit-learn 1.9).
    @Test func crossValidationMatchesGridSearch() throws {
        let x = try Matrix(rows: 60, cols: 1, values: (0..<60).map { Float(2 * sin(1.7 * Double($0)) + cos(0.3 * Double($0))) })
        var options = KernelDensity.Options()
        options.bandwidth = .crossValidated
        let kde = try KernelDensity.fit(x, options)
        #expect(abs(kde.bandwidth - 0.6951927961775606) < 1e-12)
        let foldMeans = KernelDensity.crossValidate(x, grid: options.grid, folds: 5)
        #expect(abs(foldMeans[8] - -22.58964354) < 1e-5)
        #expect(abs(foldMeans[0] - -26.59503019) < 1e-5)
        #expect(abs(foldMeans[19] - -38.9549676) < 1e-5)
    }

    @Test func histogramDensity() throws {
        // numpy.histogram([0, 1, 1, 2, 3, 3, 3, 4], bins=4, density=True): counts 1, 2, 1, 4.
        let h = try KernelDensity.histogram([0, 1, 1, 2, 3, 3, 3, 4], bins: 4)
        #expect(h.edges == [0, 1, 2, 3, 4])
        #expect(h.counts == [1, 2, 1, 4])
        #expect(h.density == [0.125, 0.25, 0.125, 0.5])
        // Freedman–Diaconis on 0…99: IQR 49.5, width 2·49.5·100^(−1/3) = 21.33, ⌈99 / 21.33⌉ = 5 bins.
        let fd = try KernelDensity.histogram((0..<100).map(Double.init))
        #expect(fd.counts.count == 5 && fd.counts.reduce(0, +) == 100)
        #expect(throws: AnalysisError.self) { try KernelDensity.histogram([1, .nan]) }
    }

    @Test func refusesBadInput() throws {
        var x = try Matrix(rows: 3, cols: 1, values: [0, 1, 2])
        var options = KernelDensity.Options()
        options.bandwidth = .crossValidated
        do { _ = try KernelDensity.fit(x, options); Issue.record("cv on 3 samples accepted") } catch {
            #expect(error.option == "--bandwidth")
        }
        options.bandwidth = .value(0)
        do { _ = try KernelDensity.fit(x, options); Issue.record("bandwidth 0 accepted") } catch {
            #expect(error.option == "--bandwidth")
        }
        x[1, 0] = .nan
        options.bandwidth = .scott
        do { _ = try KernelDensity.fit(x, options); Issue.record("NaN accepted") } catch {
            #expect(error.message.contains("sample 1, feature 0"))
        }
        let kde = try KernelDensity.fit(try Matrix(rows: 2, cols: 2, values: [0, 0, 1, 1]), options)
        #expect(throws: AnalysisError.self) { try kde.scoreSamples(try Matrix(rows: 1, cols: 3, values: [0, 0, 0])) }
    }
}
