// Data sets: subsets, the validation split, bootstrap indices, normalisation fitted on
// the training set, one-hot targets.
import Foundation
import PhalanxCore
@testable import PhalanxData
import Testing

@Suite struct DatasetTests {
    /// The sample index a tagged image came from (its pixel (0, 0, 0) is index·1000).
    func origin(_ dataset: Dataset, _ k: Int) -> Int { Int(dataset.images[k * dataset.sampleSize]) / 1000 }

    @Test func subsetCopiesSamplesInOrderWithRepeats() {
        let data = taggedDataset(count: 6)
        let sub = data.subset([4, 1, 4])
        #expect(sub.count == 3 && sub.labels == [1, 1, 1])
        #expect(sample(sub, 0) == sample(data, 4) && sample(sub, 1) == sample(data, 1) && sample(sub, 2) == sample(data, 4))
        sub.images[0] = -1
        #expect(data.images[4 * data.sampleSize] == 4000, "a subset must not share memory with its source")
    }

    @Test func validationSplitIsDisjointCompleteAndSeeded() throws {
        let data = taggedDataset(count: 50)
        let (train, validation) = try data.split(validationFraction: 0.2, seed: 11)
        #expect(train.count == 40 && validation.count == 10)
        let t = (0..<train.count).map { origin(train, $0) }
        let v = (0..<validation.count).map { origin(validation, $0) }
        #expect(Set(t).isDisjoint(with: v))
        #expect((t + v).sorted() == Array(0..<50))
        #expect(t == t.sorted() && v == v.sorted())
        #expect(train.labels == t.map { Int32($0 % 3) })
        // Same seed, same split; another seed, another split.
        let again = try data.split(validationCount: 10, seed: 11).validation
        #expect((0..<10).map { origin(again, $0) } == v)
        let other = try data.split(validationCount: 10, seed: 12).validation
        #expect((0..<10).map { origin(other, $0) } != v)
    }

    @Test func impossibleSplitsAreNamedErrors() {
        let data = taggedDataset(count: 5)
        for fraction in [0.0, 1.0, -0.5, .nan] {
            let error = #expect(throws: DataError.self) { _ = try data.split(validationFraction: fraction, seed: 1) }
            guard case .invalidSetting("validation_fraction", _)? = error else {
                Issue.record("fraction \(fraction): \(String(describing: error))")
                continue
            }
        }
        let error = #expect(throws: DataError.self) { _ = try data.split(validationCount: 5, seed: 1) }
        #expect(error?.description.contains("validation_count") == true)
    }

    @Test func bootstrapIndicesAreSeededDrawsWithReplacement() {
        let a = Dataset.bootstrapIndices(count: 200, seed: 3, member: 0)
        #expect(a == Dataset.bootstrapIndices(count: 200, seed: 3, member: 0))
        #expect(a != Dataset.bootstrapIndices(count: 200, seed: 3, member: 1))
        #expect(a.allSatisfy { (0..<200).contains($0) })
        // About 1 − 1/e ≈ 63 % distinct; far from all and far from few.
        #expect((100..<150).contains(Set(a).count))
    }

    @Test func standardizeUsesPerChannelTrainingStatistics() throws {
        // Two images, two channels of 2 pixels: channel 0 holds 1, 3, 5, 7; channel 1 holds 10 four times.
        let train = Tensor(shape: [2, 2, 1, 2], values: [1, 3, 10, 10, 5, 7, 10, 10])
        let stats = NormalizationStats.fit(.standardize, to: train)
        let std0 = Float(5).squareRoot()   // population variance of 1, 3, 5, 7 is 5
        #expect(stats.shift == [4, 10])
        #expect(abs(stats.scale[0] - 1 / std0) < 1e-6 && stats.scale[1] == 1, "constant channel keeps scale 1")
        // Applied to another split, with the training statistics.
        let test = Tensor(shape: [1, 2, 1, 2], values: [4, 9, 10, 12])
        stats.apply(to: test)
        #expect(abs(test[0]) < 1e-6 && abs(test[1] - 5 / std0) < 1e-5 && test[2] == 0 && test[3] == 2)
        stats.apply(to: train)
        let c0 = [train[0], train[1], train[4], train[5]]
        #expect(abs(c0.reduce(0, +)) < 1e-5 && abs(c0.map { $0 * $0 }.reduce(0, +) / 4 - 1) < 1e-5)
    }

    @Test func minMaxAndScale() {
        let images = Tensor(shape: [2, 1, 1, 2], values: [50, 100, 150, 250])
        let minMax = NormalizationStats.fit(.minMax, to: images)
        #expect(minMax.shift == [50] && minMax.scale == [1 / Float(200)])
        let copy = images.copy()
        minMax.apply(to: copy)
        #expect(copy.scalars == [0, 0.25, 0.5, 1])
        let scale = NormalizationStats.fit(.scale, to: images)
        scale.apply(to: images)
        #expect(images.scalars.map { ($0 * 255).rounded() } == [50, 100, 150, 250] && images[3] <= 1)
        let none = NormalizationStats.fit(.none, to: images)
        let before = images.scalars
        none.apply(to: images)
        #expect(images.scalars == before)
    }

    @Test func statisticsAreCodable() throws {
        let stats = NormalizationStats.fit(.standardize, to: taggedDataset(count: 4, channels: 2).images)
        let json = try JSONEncoder().encode(stats)
        #expect(try JSONDecoder().decode(NormalizationStats.self, from: json) == stats)
        #expect(String(decoding: json, as: UTF8.self).contains("\"standardize\""))
        let minMax = try JSONDecoder().decode(NormalizationStats.self,
                                              from: Data(#"{"method":"min_max","shift":[1],"scale":[0.5]}"#.utf8))
        #expect(minMax.method == .minMax && minMax.channels == 1)
    }

    @Test func oneHotTargets() {
        let t = oneHot([2, 0, 1], classCount: 3)
        #expect(t.shape == [3, 3] && t.scalars == [0, 0, 1, 1, 0, 0, 0, 1, 0])
        oneHot([1], classCount: 4, into: t)
        #expect(t.shape == [1, 4] && t.scalars == [0, 1, 0, 0])
    }
}
