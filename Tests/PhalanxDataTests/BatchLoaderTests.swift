// The background loader gives the same batches as the synchronous path whatever the
// timing, stops cleanly, and evaluation shards cover the data once.
import Foundation
import PhalanxCore
@testable import PhalanxData
import Testing

@Suite struct BatchLoaderTests {
    let data = taggedDataset(count: 37, channels: 1, height: 4, width: 5, classes: 3)
    let aug = Augmentation(cropPadding: 1, horizontalFlip: true, noiseStd: 0.1)
    let stats = NormalizationStats(method: .standardize, shift: [500], scale: [0.01])

    func sampler(rank: Int = 1, world: Int = 2, dropLast: Bool = false, state: ShardedSampler.State = .init())
        throws -> ShardedSampler {
        try ShardedSampler(sampleCount: 37, globalBatchSize: 8, rank: rank, worldSize: world, seed: 3,
                           dropLast: dropLast, state: state)
    }

    /// The epoch assembled by hand: sampler slices gathered one by one.
    func synchronous(_ s: ShardedSampler) throws -> [BatchRecord] {
        var s = s
        let assembler = try BatchAssembler(dataset: data, augmentation: aug, normalization: stats, seed: s.seed)
        var records: [BatchRecord] = []
        while let slice = s.next() {
            let images = Tensor(shape: [0])
            var labels: [Int32] = []
            assembler.assemble(slice.indices, epoch: slice.epoch, into: images, labels: &labels)
            records.append(BatchRecord(Batch(images: images, labels: labels, indices: slice.indices,
                                             globalCount: slice.globalCount, epoch: slice.epoch,
                                             index: slice.index, resumeState: slice.resumeState)))
        }
        return records
    }

    func loaded(_ s: ShardedSampler, prefetch: Int, consumerDelay: Bool = false) throws -> [BatchRecord] {
        let loader = try BatchLoader(dataset: data, sampler: s, augmentation: aug, normalization: stats,
                                     prefetch: prefetch)
        var records: [BatchRecord] = []
        for batch in loader {
            records.append(BatchRecord(batch))
            if consumerDelay { usleep(UInt32(1000 * (batch.index % 3))) }
        }
        return records
    }

    @Test func loaderMatchesSynchronousPathWhateverTheTiming() throws {
        let s = try sampler(state: .init(epoch: 2))
        let expected = try synchronous(s)
        #expect(expected.count == 5 && expected.last?.globalCount == 5 && expected.last?.labels.count == 2)
        #expect(try loaded(s, prefetch: 0) == expected)
        #expect(try loaded(s, prefetch: 2) == expected)
        #expect(try loaded(s, prefetch: 3, consumerDelay: true) == expected)
        #expect(expected.allSatisfy { $0.shape == [$0.labels.count, 1, 4, 5] && $0.epoch == 2 })
        #expect(expected.map(\.resumeState) == (1...5).map { .init(epoch: 2, nextBatch: $0) })
    }

    @Test func loaderStartsFromAResumedState() throws {
        let full = try loaded(sampler(state: .init(epoch: 1)), prefetch: 2)
        let resumed = try loaded(sampler(state: .init(epoch: 1, nextBatch: 3)), prefetch: 2)
        #expect(resumed == Array(full.dropFirst(3)))
    }

    @Test func stopEndsTheEpochEarly() throws {
        let big = taggedDataset(count: 400)
        let s = try ShardedSampler(sampleCount: 400, globalBatchSize: 4, seed: 1)
        let loader = try BatchLoader(dataset: big, sampler: s, prefetch: 2)
        #expect(loader.next()?.indices == Array(s.permutation(epoch: 0).prefix(4)))
        #expect(loader.next() != nil)
        loader.stop()
        #expect(loader.next() == nil)
        loader.stop()   // idempotent
        // Dropping a loader mid-epoch must not leave its producer blocked forever.
        for _ in 0..<5 {
            let dropped = try BatchLoader(dataset: big, sampler: s, prefetch: 3)
            _ = dropped.next()
        }
    }

    @Test func prefetchOutOfRangeIsNamed() throws {
        let error = #expect(throws: DataError.self) { _ = try BatchLoader(dataset: data, sampler: sampler(), prefetch: 9) }
        #expect(error?.description.contains("prefetch") == true)
    }

    @Test(arguments: [1, 2, 3])
    func evaluationShardsCoverEverySampleOnceInOrder(world: Int) throws {
        var seen: [Int] = []
        for rank in 0..<world {
            let batches = try EvaluationBatches(dataset: data, batchSize: 5, rank: rank, worldSize: world,
                                                normalization: stats)
            var count = 0
            for batch in batches {
                #expect(batch.count <= 5 && batch.globalCount == batch.count && batch.resumeState == nil)
                for (k, i) in batch.indices.enumerated() {
                    let expected = sample(data, i).map { ($0 - 500) * 0.01 }
                    #expect(Array(batch.images.scalars[(k * 20)..<((k + 1) * 20)]) == expected)
                    #expect(batch.labels[k] == data.labels[i])
                }
                seen += batch.indices
                count += 1
            }
            #expect(count == batches.batchCount)
        }
        #expect(seen == Array(0..<37))
    }
}

