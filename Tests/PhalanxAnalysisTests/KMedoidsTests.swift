import Testing
@testable import PhalanxAnalysis
import PhalanxCore

@Suite struct KMedoidsTests {
    /// 40 points in three loose groups (rounded to 2 decimals), shared with the affinity
    /// propagation tests.
    static let small: [Float] = [
        0.46, -1.56, 4.13, 4.41, -5.93, -4.95, -2.81, -3.47, -0.03, -1.28, -1.68, -1.83, -2.9, -1.31, -2.3, -4.29,
        3.55, 1.56, 4.32, 2.93, 2.72, 1.98, 1.83, -0.23, 2.36, 2.47, -2.2, -2.45, 3.62, 3.65, 3.21, -0.61, 2.23, 1.78,
        -2.08, -1.31, -0.17, -1.26, 1.76, 3.98, 1.11, 0.81, -1, 0.35, -2.82, -2.67, 1.31, 0.34, -1.98, -2.9, -2.57,
        -2.05, 0.81, 2.52, -0.71, -0.96, -0.41, 2.24, -1.3, 1.45, 0.48, 2.5, -2.76, -2.12, 1.07, 1.19, -3.52, -3.69,
        1.29, -0.29, 1.09, 1.3, -1.38, 0.75, 3.21, 4.04, -0.64, 0.24, 3.94, 2.54,
    ]

    /// Three blobs of 60 points (σ = 1) centred at (0, 0), (30, 0), (0, 30), then three
    /// outliers about 150–200 away.
    static let centres: [(Float, Float)] = [(0, 0), (30, 0), (0, 30)]
    static func blobsWithOutliers() throws -> (Matrix, [Int]) {
        var rng = RNG(seed: 11)
        var v: [Float] = [], truth: [Int] = []
        for (c, centre) in centres.enumerated() {
            for _ in 0..<60 { v += [centre.0 + rng.normal(), centre.1 + rng.normal()]; truth.append(c) }
        }
        v += [150, 150, -120, 140, 160, -100]
        return (try Matrix(rows: v.count / 2, cols: 2, values: v), truth)
    }

    /// scikit-learn-extra 0.3.0, `KMedoids(4, method=…, init="build")` on `small` (float32).
    @Test func matchesScikitLearnExtra() throws {
        let x = try Matrix(rows: 40, cols: 2, values: Self.small)
        var options = KMedoids.Options()
        options.clusters = 4
        options.method = .pam
        let pam = try KMedoids.fit(x, options)
        #expect(Set(pam.medoids) == [38, 14, 22, 32])
        #expect(abs(pam.inertia - 48.211464) < 1e-4)
        #expect(pam.converged)
        options.method = .alternate
        let alternate = try KMedoids.fit(x, options)
        #expect(Set(alternate.medoids) == [38, 12, 22, 23])
        #expect(abs(alternate.inertia - 49.33361) < 1e-4)
    }

    @Test(arguments: [(KMedoids.Method.pam, KMedoids.Initialization.build), (.pam, .kMedoidsPlusPlus), (.pam, .random),
                      (.alternate, .build)])
    func medoidsIgnoreOutliers(method: KMedoids.Method, initialization: KMedoids.Initialization) throws {
        let (x, truth) = try Self.blobsWithOutliers()
        var options = KMedoids.Options()
        options.clusters = 3
        options.method = method
        options.initialization = initialization
        let result = try KMedoids.fit(x, options)
        // Each medoid sits in a different blob, within 1.5 of its centre.
        var blobs = Set<Int>()
        for m in result.medoids {
            #expect(m < 180)
            for (c, centre) in Self.centres.enumerated() {
                let dx = x[m, 0] - centre.0, dy = x[m, 1] - centre.1
                if (dx * dx + dy * dy).squareRoot() < 1.5 { blobs.insert(c) }
            }
        }
        #expect(blobs.count == 3)
        // The blob points are labelled as the truth (up to renaming), while the mean of some
        // cluster, outliers included, is dragged more than 2 away from its blob.
        var naming = [Int: Int]()
        for i in 0..<180 {
            if let c = naming[result.labels[i]] { #expect(c == truth[i]) } else { naming[result.labels[i]] = truth[i] }
        }
        var dragged = false
        for c in 0..<3 {
            let members = (0..<x.rows).filter { result.labels[$0] == c }
            let mx = members.reduce(Float(0)) { $0 + x[$1, 0] } / Float(members.count)
            let my = members.reduce(Float(0)) { $0 + x[$1, 1] } / Float(members.count)
            let centre = Self.centres[naming[c] ?? 0]
            if ((mx - centre.0) * (mx - centre.0) + (my - centre.1) * (my - centre.1)).squareRoot() > 2 { dragged = true }
        }
        #expect(dragged)
        #expect(result.labels == (try result.predict(x)))
    }

    @Test func refusesBadInput() throws {
        let x = try Matrix(rows: 40, cols: 2, values: Self.small)
        var options = KMedoids.Options()
        options.clusters = 41
        #expect(throws: AnalysisError.option("--clusters", "41 medoids need 1 ≤ k ≤ 40, the number of samples")) {
            try KMedoids.fit(x, options)
        }
        options.clusters = 3
        options.maxPoints = 20
        do {
            _ = try KMedoids.fit(x, options)
            Issue.record("over --max-points accepted")
        } catch {
            #expect(error.option == "--max-points" && error.message.contains("GiB"))
        }
        var bad = x
        bad[7, 0] = .infinity
        #expect(throws: AnalysisError.self) { try KMedoids.fit(bad, KMedoids.Options()) }
    }
}
