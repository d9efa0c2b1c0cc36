// The sampler: the ranks' slices of a global batch are disjoint and make up the
// single-process batch; drop_last false covers every sample once; saved state resumes
// identically; impossible settings are named errors.
import Foundation
@testable import PhalanxData
import Testing

@Suite struct ShardedSamplerTests {
    /// All of one epoch's slices for every rank of `world`.
    func epoch(count: Int, batch: Int, world: Int, dropLast: Bool, epoch e: Int = 0) throws -> [[SampleSlice]] {
        try (0..<world).map { rank in
            var s = try ShardedSampler(sampleCount: count, globalBatchSize: batch, rank: rank, worldSize: world,
                                       seed: 42, dropLast: dropLast, state: .init(epoch: e))
            var slices: [SampleSlice] = []
            while let slice = s.next() { slices.append(slice) }
            return slices
        }
    }

    @Test(arguments: [1, 2, 3])
    func ranksPartitionTheSingleProcessGlobalBatch(world: Int) throws {
        let single = try epoch(count: 50, batch: 12, world: 1, dropLast: true)[0]
        let ranks = try epoch(count: 50, batch: 12, world: world, dropLast: true)
        #expect(single.count == 4)
        for r in ranks { #expect(r.count == single.count) }
        for (b, global) in single.enumerated() {
            let parts = ranks.map { $0[b].indices }
            #expect(parts.allSatisfy { $0.count == 12 / world })
            #expect(Array(parts.joined()) == global.indices, "batch \(b), world \(world)")
            #expect(Set(parts.joined()).count == 12, "ranks' slices overlap")
            #expect(ranks.allSatisfy { $0[b].globalCount == 12 && $0[b].index == b })
        }
        #expect(Set(single.flatMap(\.indices)).count == 48)
    }

    @Test func withoutDropLastEverySampleOnceAndRemainderSplitEvenly() throws {
        let ranks = try epoch(count: 50, batch: 12, world: 3, dropLast: false)
        #expect(ranks.allSatisfy { $0.count == 5 })
        let all = ranks.flatMap { $0.flatMap(\.indices) }
        #expect(all.sorted() == Array(0..<50))
        // The last global batch holds 2 samples: ranks 0 and 1 take one each, rank 2 none.
        #expect(ranks.map { $0[4].indices.count } == [1, 1, 0])
        #expect(ranks.allSatisfy { $0[4].globalCount == 2 })
        let single = try epoch(count: 50, batch: 12, world: 1, dropLast: false)[0]
        #expect(ranks.map { $0[4].indices }.flatMap { $0 } == single[4].indices)
    }

    @Test func shardsDifferByAtMostOne() {
        for count in 0..<20 {
            for world in 1...5 {
                let parts = (0..<world).map { ShardedSampler.shard(count: count, rank: $0, worldSize: world) }
                #expect(parts.first?.lowerBound == 0 && parts.last?.upperBound == count)
                #expect(zip(parts, parts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect((parts.map(\.count).max() ?? 0) - (parts.map(\.count).min() ?? 0) <= 1)
            }
        }
    }

    @Test func epochsArePermutationsSeededBySeedAndEpoch() throws {
        let s = try ShardedSampler(sampleCount: 30, globalBatchSize: 5, seed: 42)
        #expect(s.permutation(epoch: 0).sorted() == Array(0..<30))
        #expect(s.permutation(epoch: 0) == s.permutation(epoch: 0))
        #expect(s.permutation(epoch: 0) != s.permutation(epoch: 1))
        let t = try ShardedSampler(sampleCount: 30, globalBatchSize: 5, seed: 43)
        #expect(t.permutation(epoch: 0) != s.permutation(epoch: 0))
        let e1 = try epoch(count: 30, batch: 5, world: 1, dropLast: true, epoch: 1)[0]
        #expect(e1.flatMap(\.indices) == s.permutation(epoch: 1))
    }

    @Test func resumeFromSavedStateContinuesIdentically() throws {
        var straight = try ShardedSampler(sampleCount: 50, globalBatchSize: 8, rank: 1, worldSize: 2, seed: 9)
        var expected: [SampleSlice] = []
        var saved: Data?
        for step in 0..<12 {
            if step == 5 { saved = try JSONEncoder().encode(straight.state) }
            if let slice = straight.next() { expected.append(slice) } else { straight.startNextEpoch() }
        }
        var resumed = try ShardedSampler(sampleCount: 50, globalBatchSize: 8, rank: 1, worldSize: 2, seed: 9)
        try resumed.restore(JSONDecoder().decode(ShardedSampler.State.self, from: saved!))
        var continued: [SampleSlice] = []
        for _ in 5..<12 {
            if let slice = resumed.next() { continued.append(slice) } else { resumed.startNextEpoch() }
        }
        #expect(Array(expected.suffix(continued.count)) == continued)
        #expect(continued.count == 6 && continued.contains { $0.epoch == 1 })
        #expect(String(decoding: saved!, as: UTF8.self).contains("next_batch"))
        // The resume state a slice carries is the state right after it.
        #expect(expected[2].resumeState == .init(epoch: 0, nextBatch: 3))
    }

    @Test func impossibleSettingsAreNamedErrors() throws {
        let odd = #expect(throws: DataError.self) {
            _ = try ShardedSampler(sampleCount: 100, globalBatchSize: 10, rank: 0, worldSize: 3, seed: 1)
        }
        #expect(odd == .batchSizeNotDivisible(batchSize: 10, worldSize: 3))
        #expect(odd?.description.contains("batch_size 10") == true && odd?.description.contains("(3)") == true)
        #expect(throws: DataError.self) { _ = try ShardedSampler(sampleCount: 5, globalBatchSize: 8, seed: 1) }
        #expect(throws: DataError.self) { _ = try ShardedSampler(sampleCount: 5, globalBatchSize: 0, seed: 1) }
        #expect(throws: DataError.self) {
            _ = try ShardedSampler(sampleCount: 5, globalBatchSize: 2, rank: 2, worldSize: 2, seed: 1)
        }
        var s = try ShardedSampler(sampleCount: 5, globalBatchSize: 8, seed: 1, dropLast: false)
        #expect(s.batchesPerEpoch == 1)
        #expect(throws: DataError.self) { try s.restore(.init(epoch: 0, nextBatch: 2)) }
    }
}
