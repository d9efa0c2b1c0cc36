// Samples split over the ranks of a job: rank r holds a contiguous block of rows, in rank
// order, so the global order is rank 0's rows, then rank 1's… The data-parallel methods
// (PCA, k-means, Gaussian mixtures) see their shard and sum their statistics over the
// world; alone the world is `LocalCommunicator` and the shard is everything.
import PhalanxDistributed

/// This rank's rows of a matrix split over `world`.
public struct Shard {
    /// The rows this rank holds.
    public let local: Matrix
    public let world: Communicator
    /// The global index of `local`'s first row.
    public let offset: Int
    /// Rows over all ranks.
    public let total: Int

    /// Everything in one process.
    public init(_ all: Matrix) {
        local = all
        world = LocalCommunicator()
        offset = 0
        total = all.rows
    }

    /// This rank's `local` rows; every rank calls it (it gathers the counts).
    public init(_ local: Matrix, world: Communicator) throws {
        var counts = [Double](repeating: 0, count: world.size + 1)
        counts[world.rank] = Double(local.rows)
        counts[world.size] = Double(local.cols)
        counts = try world.allreduceSum(counts)
        guard counts[world.size] == Double(local.cols) * Double(world.size) else {
            throw AnalysisError.input("the ranks hold features of different widths")
        }
        self.local = local
        self.world = world
        offset = Int(counts[0..<world.rank].reduce(0, +))
        total = Int(counts[0..<world.size].reduce(0, +))
    }

    public var cols: Int { local.cols }

    /// Sums `values` over the world.
    public func sum(_ values: [Double]) throws -> [Double] { try world.allreduceSum(values) }

    /// Sums `values` over the world in place.
    public func sum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { try world.allreduceSum($0) }
    }

    /// Every rank's `values` joined in rank order (all ranks call it; counts may differ).
    public func gather(_ values: [Float]) throws -> [Float] {
        let bytes = values.withUnsafeBytes { Array($0) }
        // allgather needs equal lengths: pad to the longest.
        var length = [Double](repeating: 0, count: world.size)
        length[world.rank] = Double(bytes.count)
        length = try world.allreduceSum(length)
        let longest = Int(length.max() ?? 0)
        let parts = try world.allgather(bytes + [UInt8](repeating: 0, count: longest - bytes.count))
        var out = [Float]()
        for (r, part) in parts.enumerated() {
            let used = Int(length[r]) / MemoryLayout<Float>.size
            part.withUnsafeBytes { raw in out.append(contentsOf: raw.bindMemory(to: Float.self).prefix(used)) }
        }
        return out
    }
}
