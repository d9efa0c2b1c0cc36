// Recurrent layers as ONNX LSTM / RNN operators.
//
// Phalanx (PyTorch) keeps the LSTM's gates in the order i, f, g, o; ONNX's W, R and B
// hold them as i, o, f, c (c is PyTorch's g), so each [4H, ·] tensor is cut into four
// blocks of H rows and reassembled in the order 0, 3, 1, 2. Peephole weights (ONNX's
// P, Phalanx's `weight_peephole`, both into i and f from c_{t−1} and into o from c_t)
// go from i, f, o to ONNX's i, o, f. B is [W_b, R_b] per direction, both reordered.
//
// Layout: Phalanx reads [N, T, F] (or [N, 1, T, F]) batch first; ONNX's LSTM reads
// [T, N, F] and gives Y [T, D, N, H] and Y_h [D, N, H]. A stacked layer feeds
// Y transposed to [T, N, D, H] and reshaped to [T, N, D·H] — the forward direction's
// features first, as Phalanx joins them. The output is Y likewise, batch first
// (`return_sequences`), or Y_h as [N, D·H]: the forward direction after step T, the
// reverse after step 1, PyTorch's h_n.
import PhalanxNN

extension ONNXExport {
    /// Where each ONNX LSTM gate block comes from among PyTorch's (i, f, g, o): i, o, f, c = g.
    public static let lstmGateOrder = [0, 3, 1, 2]
    /// Where each ONNX peephole block comes from among Phalanx's (i, f, o): i, o, f.
    public static let peepholeOrder = [0, 2, 1]

    /// `values` cut into `order.count` equal blocks and reassembled in `order`
    /// (block k of the result is block `order[k]` of `values`).
    public static func reorderBlocks(_ values: [Float], order: [Int]) -> [Float] {
        precondition(values.count % order.count == 0, "reorderBlocks: \(values.count) values in \(order.count) blocks")
        let block = values.count / order.count
        return order.flatMap { values[($0 * block)..<(($0 + 1) * block)] }
    }

    mutating func recurrent(_ l: Recurrent, path: String, input x: Value, shape: [Int]) -> Value {
        let n = x.shape.count
        let (T, F) = (x.shape[n - 2], x.shape[n - 1])
        let D = l.bidirectional ? 2 : 1, H = l.hidden
        var v = x
        if n == 4 {  // [N, 1, T, F]: an image read row by row
            let s = constant(path + ".sequence_shape", dims: [3], int64: [0, Int64(T), Int64(F)])
            v = node("Reshape", [v.name, s], path: path + "/rows", shape: [1, T, F])
        }
        v = node("Transpose", [v.name], path: path + "/time_major", shape: [T, 1, F], ["perm": .ints([1, 0, 2])])
        var finalHidden = v
        for (index, layer) in l.weights.enumerated() {
            let at = l.layers == 1 ? path : path + ".l\(index)"
            let inputs = recurrentWeights(layer, cell: l.cell, path: at, hidden: H)
            let op = l.cell == .lstm ? "LSTM" : "RNN"
            let name = unique(at.isEmpty ? op : at)
            let y = name + "/Y", yh = name + "/Y_h"
            usedNames.formUnion([y, yh])
            model.nodes.append(ONNXNode(op, inputs: [v.name] + inputs, outputs: [y, yh], name: name, attributes: [
                ("hidden_size", .int(H)), ("direction", .string(l.bidirectional ? "bidirectional" : "forward"))]))
            finalHidden = Value(name: yh, shape: [D, 1, H])
            guard index < l.layers - 1 || l.returnSequences else { break }
            let joined = node("Transpose", [y], path: at + "/steps", shape: [T, 1, D, H], ["perm": .ints([0, 2, 1, 3])])
            let flat = constant(at + ".steps_shape", dims: [3], int64: [0, 0, -1])
            v = node("Reshape", [joined.name, flat], path: at + "/features", shape: [T, 1, D * H])
        }
        if l.returnSequences {
            return node("Transpose", [v.name], path: path, shape: shape, ["perm": .ints([1, 0, 2])])
        }
        let batchFirst = node("Transpose", [finalHidden.name], path: path + "/h_n", shape: [1, D, H],
                              ["perm": .ints([1, 0, 2])])
        let flat = constant(path + ".h_n_shape", dims: [2], int64: [0, -1])
        return node("Reshape", [batchFirst.name, flat], path: path, shape: shape)
    }

    /// The W, R, B (and P) initializers of one layer; returns the node's inputs after X.
    private mutating func recurrentWeights(_ directions: [RecurrentWeights], cell: RecurrentCell, path: String,
                                           hidden H: Int) -> [String] {
        let gates = cell == .lstm ? Self.lstmGateOrder : [0]
        func reordered(_ p: Parameter) -> [Float] { Self.reorderBlocks(p.value.scalars, order: gates) }
        let G = gates.count * H, input = directions[0].weightIH.value.shape[1], D = directions.count
        let w = constant(path + ".W", dims: [D, G, input], directions.flatMap { reordered($0.weightIH) })
        let r = constant(path + ".R", dims: [D, G, H], directions.flatMap { reordered($0.weightHH) })
        let b = constant(path + ".B", dims: [D, 2 * G], directions.flatMap { reordered($0.biasIH) + reordered($0.biasHH) })
        let peepholes = directions.compactMap(\.peephole)
        guard !peepholes.isEmpty else { return [w, r, b] }
        let p = constant(path + ".P", dims: [D, 3 * H], peepholes.flatMap { Self.reorderBlocks($0.value.scalars, order: Self.peepholeOrder) })
        // Inputs 4–6 (sequence_lens, initial_h, initial_c) are absent.
        return [w, r, b, "", "", "", p]
    }
}
