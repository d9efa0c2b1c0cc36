// `data.labels_per_class`: a fixed, seeded subset of n labelled samples per class.
import Foundation
import PhalanxData
@testable import PhalanxTraining
import Testing

@Suite struct FewLabelsTests {
    @Test func takesNOfEachClassTheSameWayEachTime() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: data.config(), overrides: ["data.labels_per_class=7"])
        let a = try TrainingData.load(loaded.config, fail: loaded.error)
        #expect(a.train.count == 21)
        #expect((0..<3).allSatisfy { c in a.train.labels.filter { $0 == c }.count == 7 })
        #expect(a.validation?.count == 30, "the validation split is held out first, in full")
        let b = try TrainingData.load(loaded.config, fail: loaded.error)
        #expect(a.fingerprint == b.fingerprint)
        let other = try ConfigLoader.load(yaml: data.config(), overrides: ["data.labels_per_class=7", "seed=6"])
        #expect(try TrainingData.load(other.config, fail: other.error).fingerprint != a.fingerprint)
    }

    @Test func moreThanAClassHasIsRefusedByKey() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        for value in ["500", "-1"] {
            let loaded = try ConfigLoader.load(yaml: data.config(), overrides: ["data.labels_per_class=\(value)"])
            #expect { try TrainingData.load(loaded.config, fail: loaded.error) } throws: {
                ($0 as? ConfigError)?.key == "data.labels_per_class"
            }
        }
    }
}
