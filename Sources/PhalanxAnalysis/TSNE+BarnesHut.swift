// The Barnes–Hut t-SNE gradient (van der Maaten, JMLR 2014) in two dimensions: attraction
// over the sparse k-nearest-neighbour P, repulsion from a quadtree whose cells of width w
// stand for all their points when w² < θ²·d² (scikit-learn's criterion). The tree is built
// serially each iteration, then laid out in preorder with a skip index per cell, so a walk is
// a loop without a stack. Eight points adjacent in the tree's leaf order walk together (SIMD
// lanes), d taken from the cell's centre of mass to their bounding box: never coarser than
// scikit-learn's per-point walk. Points are relabelled in leaf order every 10 evaluations
// so that P's rows and the positions they read lie near in memory. One component embeds on
// the x axis of the same tree. Leaves hold one point, or several identical ones (or any at
// depth 48), which count at their centre of mass.
import Foundation
import PhalanxCore

/// A quadtree over 2-D points, rebuilt in place each iteration.
struct QuadTree {
    /// A cell in preorder: its points' centre of mass, squared width, point count, and the
    /// index just past its subtree (`next == index + 1` for a leaf).
    struct Cell {
        var x: Double
        var y: Double
        var width2: Double
        var count: Int32
        var next: Int32
    }

    private struct Node {
        var cx: Double, cy: Double, half: Double
        var sumX = 0.0, sumY = 0.0
        var count: Int32 = 0
        var child: Int32 = -1
        var point: Int32 = -1
    }

    static let maxDepth = 48
    private(set) var cells: [Cell] = []
    /// The points in leaf preorder.
    private(set) var order: [Int32] = []
    private var nodes: [Node] = []
    private var nextPoint: [Int32] = []

    /// Builds the tree of the `n` points `pos[2i], pos[2i + 1]`.
    mutating func build(_ pos: UnsafePointer<Double>, count n: Int) {
        var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
        for i in 0..<n {
            minX = min(minX, pos[2 * i]); maxX = max(maxX, pos[2 * i])
            minY = min(minY, pos[2 * i + 1]); maxY = max(maxY, pos[2 * i + 1])
        }
        let extent = max(maxX - minX, maxY - minY)
        let half = max(extent / 2 * (1 + 1e-3), 1e-300)
        nodes.removeAll(keepingCapacity: true)
        nodes.append(Node(cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, half: half))
        if nextPoint.count != n { nextPoint = [Int32](repeating: -1, count: n) }
        for i in 0..<n { insert(i, pos[2 * i], pos[2 * i + 1], pos) }
        cells.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
        emit(0)
    }

    private mutating func insert(_ i: Int, _ px: Double, _ py: Double, _ pos: UnsafePointer<Double>) {
        var node = 0, depth = 0
        while true {
            if nodes[node].child >= 0 {
                nodes[node].count += 1; nodes[node].sumX += px; nodes[node].sumY += py
                let q = (px >= nodes[node].cx ? 1 : 0) | (py >= nodes[node].cy ? 2 : 0)
                node = Int(nodes[node].child) + q; depth += 1
                continue
            }
            let resident = Int(nodes[node].point)
            if resident < 0 {
                nodes[node].point = Int32(i); nextPoint[i] = -1
                nodes[node].count = 1; nodes[node].sumX = px; nodes[node].sumY = py
                return
            }
            if (pos[2 * resident] == px && pos[2 * resident + 1] == py) || depth >= QuadTree.maxDepth {
                nextPoint[i] = nodes[node].point; nodes[node].point = Int32(i)
                nodes[node].count += 1; nodes[node].sumX += px; nodes[node].sumY += py
                return
            }
            // Split: the resident points (all at one place) move to their quadrant.
            let first = nodes.count, parent = nodes[node], h = parent.half / 2
            for q in 0..<4 {
                nodes.append(Node(cx: parent.cx + (q & 1 == 0 ? -h : h), cy: parent.cy + (q & 2 == 0 ? -h : h), half: h))
            }
            let rq = (pos[2 * resident] >= parent.cx ? 1 : 0) | (pos[2 * resident + 1] >= parent.cy ? 2 : 0)
            nodes[first + rq].point = parent.point; nodes[first + rq].count = parent.count
            nodes[first + rq].sumX = parent.sumX; nodes[first + rq].sumY = parent.sumY
            nodes[node].point = -1; nodes[node].child = Int32(first)
        }
    }

    private mutating func emit(_ b: Int) {
        let node = nodes[b], index = cells.count
        let count = Double(node.count)
        cells.append(Cell(x: node.sumX / count, y: node.sumY / count, width2: 4 * node.half * node.half,
                          count: node.count, next: 0))
        if node.child < 0 {
            var q = Int(node.point)
            while q >= 0 { order.append(Int32(q)); q = Int(nextPoint[q]) }
        } else {
            for c in 0..<4 where nodes[Int(node.child) + c].count > 0 { emit(Int(node.child) + c) }
        }
        cells[index].next = Int32(cells.count)
    }

    /// Lanes of a group walk: points adjacent in the tree's leaf order share one walk.
    typealias Lanes = SIMD8<Double>

    /// The repulsion on up to 8 points at (x, y), all inside the box `box` (min x, max x,
    /// min y, max y): Σ_j w_ij² (y_i − y_j) and Σ_j w_ij with w = 1 / (1 + d²), each point's
    /// own leaf included (at distance 0 it adds 1 to Σ w and no force; the caller takes the 1
    /// off). A cell stands for its points when width² < θ²·d², d its centre of mass's
    /// distance to the nearest point of the box — the per-point criterion at that point, so
    /// at least as accurate for every lane.
    @inline(__always)
    static func repulsion(_ cells: UnsafePointer<Cell>, count end: Int, x: Lanes, y: Lanes,
                          box: SIMD4<Double>, theta2: Double) -> (fx: Lanes, fy: Lanes, z: Lanes) {
        var fx = Lanes(), fy = Lanes(), z = Lanes()
        var c = 0
        while c < end {
            let cell = cells[c]
            let ex = max(0, max(box[0] - cell.x, cell.x - box[1])), ey = max(0, max(box[2] - cell.y, cell.y - box[3]))
            let next = Int(cell.next)
            if next == c + 1 || cell.width2 < theta2 * (ex * ex + ey * ey) {
                let dx = x - cell.x, dy = y - cell.y
                let w = 1 / (1 + dx * dx + dy * dy)
                let sw = Double(cell.count) * w
                z += sw
                let sww = sw * w
                fx += sww * dx; fy += sww * dy
                c = next
            } else {
                c += 1
            }
        }
        return (fx, fy, z)
    }
}

/// The Barnes–Hut KL gradient of an embedding in 1 or 2 components over a sparse P.
final class BarnesHutObjective: @unchecked Sendable {
    let p: SparseAffinities
    let n: Int
    let components: Int
    let theta2: Double
    private var tree = QuadTree()
    /// Internal labels: point `r` here is sample `label[r]`; every few evaluations the points
    /// are relabelled in the tree's leaf order, so neighbours in the embedding (and in P) lie
    /// near in memory. `local` is P in internal labels, `positions` the points in them.
    private var label: [Int32]
    private var local: SparseAffinities
    private var positions: [Double]
    private var forces: [Double]
    private var evaluations = 0
    static let relabelInterval = 10

    init(p: SparseAffinities, components: Int, angle: Double) {
        precondition(components == 1 || components == 2, "BarnesHutObjective: \(components) components")
        self.p = p
        n = p.n
        self.components = components
        theta2 = angle * angle
        label = (0..<Int32(p.n)).map { $0 }
        local = p
        positions = [Double](repeating: 0, count: 2 * p.n)
        forces = [Double](repeating: 0, count: 4 * p.n)
    }

    /// Relabels the points in the leaf order of the last tree built.
    private func relabel() {
        let n = self.n
        var newLabel = [Int32](repeating: 0, count: n), rank = [Int32](repeating: 0, count: n)
        for r in 0..<n { newLabel[r] = label[Int(tree.order[r])]; rank[Int(newLabel[r])] = Int32(r) }
        var rowStart = [Int](repeating: 0, count: n + 1)
        var columns = [Int32](repeating: 0, count: p.columns.count), values = [Double](repeating: 0, count: p.values.count)
        p.rowStart.withUnsafeBufferPointer { start in p.columns.withUnsafeBufferPointer { cols in
        p.values.withUnsafeBufferPointer { vals in columns.withUnsafeMutableBufferPointer { newCols in
        values.withUnsafeMutableBufferPointer { newVals in rank.withUnsafeBufferPointer { rank in
            var e = 0
            for r in 0..<n {
                let i = Int(newLabel[r])
                for o in start[i]..<start[i + 1] { newCols[e] = rank[Int(cols[o])]; newVals[e] = vals[o]; e += 1 }
                rowStart[r + 1] = e
            }
        }}}}}}
        label = newLabel
        local = SparseAffinities(n: n, rowStart: rowStart, columns: columns, values: values)
    }

    /// Copies sample coordinates from `y` into `positions` in internal labels.
    private func gather(_ y: UnsafePointer<Double>) {
        let dims = components
        for r in 0..<n {
            let i = Int(label[r])
            positions[2 * r] = y[i * dims]
            positions[2 * r + 1] = dims == 2 ? y[i * dims + 1] : 0
        }
    }

    /// The gradient 4·(exaggeration·Σ_j p_ij w_ij (y_i − y_j) − Σ_j w_ij² (y_i − y_j) / Z)
    /// into `gradient`; the KL over the sparse P (with the tree's Z) when `computeError`.
    func evaluate(_ y: UnsafePointer<Double>, _ gradient: UnsafeMutablePointer<Double>, _ exaggeration: Double,
                  _ computeError: Bool) -> Double {
        let n = self.n, dims = components, theta2 = self.theta2
        if evaluations > 0 && evaluations % BarnesHutObjective.relabelInterval == 0 { relabel() }
        evaluations += 1
        gather(y)
        positions.withUnsafeBufferPointer { tree.build($0.baseAddress!, count: n) }
        let threads = Parallel.threads
        var zPartial = [Double](repeating: 0, count: threads)
        tree.cells.withUnsafeBufferPointer { cb in
        tree.order.withUnsafeBufferPointer { order in
        positions.withUnsafeBufferPointer { pos in
        forces.withUnsafeMutableBufferPointer { f in
        zPartial.withUnsafeMutableBufferPointer { zb in
        local.rowStart.withUnsafeBufferPointer { rs in
        local.columns.withUnsafeBufferPointer { cols in
        local.values.withUnsafeBufferPointer { vals in
            let cells = UncheckedSendable(cb.baseAddress!), cellCount = cb.count
            let ord = UncheckedSendable(order.baseAddress!)
            let ps = UncheckedSendable(pos.baseAddress!), fs = UncheckedSendable(f.baseAddress!)
            let zs = UncheckedSendable(zb.baseAddress!)
            let rows = UncheckedSendable(rs.baseAddress!), cs = UncheckedSendable(cols.baseAddress!)
            let vs = UncheckedSendable(vals.baseAddress!)
            let groups = (n + 7) / 8
            Parallel.forChunks(groups, grain: 8) { chunk, range in
                let pos = ps.value, f = fs.value
                var z = 0.0
                for g in range {
                    let lo = 8 * g, hi = min(lo + 8, n)
                    var x = QuadTree.Lanes(), yy = QuadTree.Lanes()
                    var box = SIMD4<Double>(.infinity, -.infinity, .infinity, -.infinity)
                    for l in 0..<8 {
                        let i = Int(ord.value[min(lo + l, hi - 1)])
                        x[l] = pos[2 * i]; yy[l] = pos[2 * i + 1]
                        box[0] = min(box[0], x[l]); box[1] = max(box[1], x[l])
                        box[2] = min(box[2], yy[l]); box[3] = max(box[3], yy[l])
                    }
                    let r = QuadTree.repulsion(cells.value, count: cellCount, x: x, y: yy, box: box,
                                               theta2: theta2)
                    for l in 0..<(hi - lo) {
                        let i = Int(ord.value[lo + l])
                        z += r.z[l] - 1
                        var ax = 0.0, ay = 0.0
                        for e in rows.value[i]..<rows.value[i + 1] {
                            let j = Int(cs.value[e])
                            let dx = x[l] - pos[2 * j], dy = yy[l] - pos[2 * j + 1]
                            let m = vs.value[e] / (1 + dx * dx + dy * dy)
                            ax += m * dx; ay += m * dy
                        }
                        f[4 * i] = ax; f[4 * i + 1] = ay; f[4 * i + 2] = r.fx[l]; f[4 * i + 3] = r.fy[l]
                    }
                }
                zs.value[chunk] = z
            }
        }}}}}}}}
        let z = max(zPartial.reduce(0, +), TSNE.machineEpsilon)
        for r in 0..<n {
            let i = Int(label[r])
            for a in 0..<dims {
                gradient[i * dims + a] = 4 * (exaggeration * forces[4 * r + a] - forces[4 * r + 2 + a] / z)
            }
        }
        return computeError ? kl(z: z, exaggeration: exaggeration) : .nan
    }

    /// Σ p_ij log(p_ij / q_ij) over the entries of P, q_ij = w_ij / Z, at `positions`.
    private func kl(z: Double, exaggeration: Double) -> Double {
        let n = self.n
        var partial = [Double](repeating: 0, count: Parallel.threads)
        let tiny = Double(Float.leastNormalMagnitude)
        positions.withUnsafeBufferPointer { pos in
        partial.withUnsafeMutableBufferPointer { pb in
        local.rowStart.withUnsafeBufferPointer { rs in
        local.columns.withUnsafeBufferPointer { cols in
        local.values.withUnsafeBufferPointer { vals in
            let ps = UncheckedSendable(pos.baseAddress!), out = UncheckedSendable(pb.baseAddress!)
            let rows = UncheckedSendable(rs.baseAddress!), cs = UncheckedSendable(cols.baseAddress!)
            let vs = UncheckedSendable(vals.baseAddress!)
            Parallel.forChunks(n, grain: 256) { chunk, range in
                let pos = ps.value
                var s = 0.0
                for i in range {
                    for e in rows.value[i]..<rows.value[i + 1] {
                        let j = Int(cs.value[e])
                        let dx = pos[2 * i] - pos[2 * j], dy = pos[2 * i + 1] - pos[2 * j + 1]
                        let pij = exaggeration * vs.value[e], q = 1 / (1 + dx * dx + dy * dy) / z
                        s += pij * log(max(pij, tiny) / max(q, tiny))
                    }
                }
                out.value[chunk] = s
            }
        }}}}}
        return partial.reduce(0, +)
    }

    /// The KL of embedding `y` over the sparse P with Z summed over all pairs (the tree's Z
    /// above 20 000 samples).
    func exactKL(_ y: [Double]) -> Double {
        let n = self.n, dims = components
        if n > 20_000 {
            var g = [Double](repeating: 0, count: n * dims)
            return y.withUnsafeBufferPointer { yb in g.withUnsafeMutableBufferPointer { gb in
                evaluate(yb.baseAddress!, gb.baseAddress!, 1, true)
            } }
        }
        y.withUnsafeBufferPointer { gather($0.baseAddress!) }
        var partial = [Double](repeating: 0, count: Parallel.threads)
        positions.withUnsafeBufferPointer { pos in partial.withUnsafeMutableBufferPointer { pb in
            let ps = UncheckedSendable(pos.baseAddress!), out = UncheckedSendable(pb.baseAddress!)
            Parallel.forChunks(n, grain: 64) { chunk, range in
                let pos = ps.value
                var s = 0.0
                for i in range {
                    for j in 0..<n where j != i {
                        let dx = pos[2 * i] - pos[2 * j], dy = pos[2 * i + 1] - pos[2 * j + 1]
                        s += 1 / (1 + dx * dx + dy * dy)
                    }
                }
                out.value[chunk] = s
            }
        }}
        return kl(z: max(partial.reduce(0, +), TSNE.machineEpsilon), exaggeration: 1)
    }
}
