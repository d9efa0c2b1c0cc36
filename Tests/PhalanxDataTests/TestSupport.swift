// Shared helpers for the data tests: scratch directories and small synthetic data sets
// whose pixels say which sample, channel, row and column they are.
import Foundation
import PhalanxCore
@testable import PhalanxData
import Testing

/// A fresh empty directory under the system's temporary directory, removed by `cleanUp`.
struct ScratchDirectory {
    let path: String

    init() {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("phalanx-data-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// The pixel value that identifies (sample, channel, row, column).
func tag(_ i: Int, _ c: Int, _ y: Int, _ x: Int) -> Float {
    Float(i * 1000 + c * 100 + y * 10 + x)
}

/// A data set of `count` samples `[channels, height, width]` whose pixels are `tag(...)`,
/// labelled `i % classes`.
func taggedDataset(count: Int, channels: Int = 1, height: Int = 4, width: Int = 5, classes: Int = 3) -> Dataset {
    let images = Tensor(shape: [count, channels, height, width])
    var k = 0
    for i in 0..<count {
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    images[k] = tag(i, c, y, x)
                    k += 1
                }
            }
        }
    }
    let labels = (0..<count).map { Int32($0 % classes) }
    return Dataset(images: images, labels: labels, classCount: classes, name: "tagged")
}

/// The big-endian bytes of an IDX header with `magic` and `dims`.
func idxHeader(magic: UInt32, _ dims: [UInt32]) -> [UInt8] {
    ([magic] + dims).flatMap { IDX.bigEndian($0) }
}

/// The sample `index` of `dataset` as an array.
func sample(_ dataset: Dataset, _ index: Int) -> [Float] {
    let n = dataset.sampleSize
    return Array(UnsafeBufferPointer(start: dataset.images.data + index * n, count: n))
}

/// A snapshot of a batch that survives the loader reusing its buffers.
struct BatchRecord: Equatable {
    var images: [Float]
    var shape: [Int]
    var labels: [Int32]
    var indices: [Int]
    var globalCount: Int
    var epoch: Int
    var index: Int
    var resumeState: ShardedSampler.State?

    init(_ batch: Batch) {
        images = batch.images.scalars
        shape = batch.images.shape
        labels = batch.labels
        indices = batch.indices
        globalCount = batch.globalCount
        epoch = batch.epoch
        index = batch.index
        resumeState = batch.resumeState
    }
}
