// Augmentation: flips reverse rows, crops shift with zero fill, noise has the asked
// spread, and every draw depends on (seed, epoch, sample index) only.
import Foundation
import PhalanxCore
@testable import PhalanxData
import Testing

@Suite struct AugmentationTests {
    let data = taggedDataset(count: 40, channels: 2, height: 5, width: 6)

    /// Sample `index` of `data` augmented with `aug`.
    func augmented(_ aug: Augmentation, _ index: Int, seed: UInt64 = 5, epoch: Int = 0,
                   normalization: NormalizationStats? = nil) -> [Float] {
        var out = [Float](repeating: .nan, count: data.sampleSize)
        out.withUnsafeMutableBufferPointer { dst in
            aug.apply(data.images.data + index * data.sampleSize, into: dst.baseAddress!,
                      channels: 2, height: 5, width: 6, seed: seed, epoch: epoch, sampleIndex: index,
                      normalization: normalization)
        }
        return out
    }

    /// Sample `index` shifted by (dy, dx) with zeros outside, optionally mirrored: the
    /// reference the implementation must match.
    func shifted(_ index: Int, dy: Int, dx: Int, flip: Bool) -> [Float] {
        var out: [Float] = []
        for c in 0..<2 {
            for y in 0..<5 {
                for x in 0..<6 {
                    let sy = y + dy, sx = (flip ? 5 - x : x) + dx
                    out.append((0..<5).contains(sy) && (0..<6).contains(sx) ? tag(index, c, sy, sx) : 0)
                }
            }
        }
        return out
    }

    @Test func flipReversesEveryRow() {
        let aug = Augmentation(horizontalFlip: true)
        var flips = 0
        for i in 0..<40 {
            let out = augmented(aug, i)
            let flipped = out == shifted(i, dy: 0, dx: 0, flip: true)
            #expect(flipped || out == sample(data, i), "sample \(i) is neither itself nor its mirror image")
            #expect(flipped == aug.geometry(seed: 5, epoch: 0, sampleIndex: i).flip)
            if flipped { flips += 1 }
        }
        #expect((8...32).contains(flips), "\(flips) of 40 flipped; expected about half")
    }

    @Test func cropWithPaddingShiftsAndFillsZeros() {
        let aug = Augmentation(cropPadding: 2)
        var shifts = Set<[Int]>()
        for i in 0..<40 {
            let out = augmented(aug, i)
            let g = aug.geometry(seed: 5, epoch: 0, sampleIndex: i)
            #expect(!g.flip && (-2...2).contains(g.shiftY) && (-2...2).contains(g.shiftX))
            #expect(out == shifted(i, dy: g.shiftY, dx: g.shiftX, flip: false), "sample \(i), shift \(g)")
            shifts.insert([g.shiftY, g.shiftX])
        }
        #expect(shifts.count >= 10, "only \(shifts.count) of 25 shifts in 40 draws")
        #expect(shifts.contains { $0 != [0, 0] })
    }

    @Test func drawsDependOnSeedEpochAndIndexOnly() {
        let aug = Augmentation(cropPadding: 2, horizontalFlip: true, noiseStd: 0.3)
        #expect(augmented(aug, 7) == augmented(aug, 7))
        #expect(augmented(aug, 7, epoch: 1) != augmented(aug, 7))
        #expect(augmented(aug, 7, seed: 6) != augmented(aug, 7))
        // The same sample in two different batches gets the same augmentation.
        let assembler = try! BatchAssembler(dataset: data, augmentation: aug, seed: 5)
        let a = Tensor(shape: [1]), b = Tensor(shape: [1])
        var la: [Int32] = [], lb: [Int32] = []
        assembler.assemble([3, 7, 9], epoch: 0, into: a, labels: &la)
        assembler.assemble([7], epoch: 0, into: b, labels: &lb)
        #expect(Array(a.scalars[data.sampleSize..<(2 * data.sampleSize)]) == b.scalars)
        #expect(b.scalars == augmented(aug, 7) && la == [0, 1, 0] && lb == [1])
    }

    @Test func noiseHasTheRequestedSpread() {
        let zeros = Dataset(images: Tensor(shape: [1, 1, 64, 64]), labels: [0], classCount: 1)
        let out = Tensor(shape: [1, 1, 64, 64])
        Augmentation(noiseStd: 0.5).apply(zeros.images.data, into: out.data, channels: 1, height: 64, width: 64,
                                         seed: 1, epoch: 0, sampleIndex: 0)
        let n = Double(out.count)
        let mean = Vector.sum(out) / n
        let std = (Vector.sumOfSquares(out) / n - mean * mean).squareRoot()
        #expect(abs(mean) < 0.03 && abs(std - 0.5) < 0.03, "mean \(mean), std \(std)")
    }

    @Test func normalisationComesAfterGeometryBeforeNoise() {
        let stats = NormalizationStats(method: .standardize, shift: [100, 200], scale: [0.5, 0.25])
        let aug = Augmentation(cropPadding: 1, horizontalFlip: true)
        for i in 0..<10 {
            let g = aug.geometry(seed: 5, epoch: 0, sampleIndex: i)
            let raw = shifted(i, dy: g.shiftY, dx: g.shiftX, flip: g.flip)
            let expected = raw.enumerated().map { k, v in k < 30 ? (v - 100) * 0.5 : (v - 200) * 0.25 }
            #expect(augmented(aug, i, normalization: stats) == expected)
        }
    }

    @Test func configDecodesSnakeCaseWithDefaultsAndValidates() throws {
        let aug = try JSONDecoder().decode(Augmentation.self, from: Data(#"{"crop_padding": 4, "horizontal_flip": true}"#.utf8))
        #expect(aug == Augmentation(cropPadding: 4, horizontalFlip: true, noiseStd: 0))
        #expect(try JSONDecoder().decode(Augmentation.self, from: Data("{}".utf8)).isIdentity)
        let bad = #expect(throws: DataError.self) { try Augmentation(cropPadding: -1).validate() }
        #expect(bad?.description.contains("crop_padding") == true)
        #expect(throws: DataError.self) { try Augmentation(noiseStd: .infinity).validate() }
    }
}
