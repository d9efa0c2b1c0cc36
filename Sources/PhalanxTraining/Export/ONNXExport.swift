// Export of a trained image classifier as an ONNX model (`phalanx export --format onnx`).
//
// The network is walked as built from its config; every layer becomes the ONNX
// operators that compute what its evaluation-mode forward computes: Conv (groups),
// Gemm / MatMul, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization (running
// statistics), LRN, Concat, Add (residual blocks), Relu, LeakyRelu, PRelu, Tanh,
// Sigmoid, Flatten, Reshape, Resize (nearest), ConvTranspose, LSTM and RNN
// (ONNXExport+Recurrent.swift). Dropout is the identity in evaluation and auxiliary
// heads do not run there, so neither appears in the graph. The data's normalisation
// (x − shift)·scale is the graph's first two nodes, so the model reads pixels as the
// data files hold them (0–255 for Fashion-MNIST's bytes), as float32 [N, C, H, W].
// Initializers keep the checkpoint's state-dict names (`conv1.weight`).
//
// What cannot be written the same way is refused with the layer's name and the reason
// (`ONNXExportError`): never a graph that computes something else.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN

/// A layer that ONNX export cannot write, with where it is and why.
public struct ONNXExportError: Error, CustomStringConvertible, Equatable {
    /// The layer's path in the network (`inception3a.branch2.conv`, `<model>` for the root).
    public var layer: String
    /// Its kind (`Embedding`).
    public var kind: String
    public var reason: String

    public var description: String { "cannot export layer '\(layer)' (\(kind)) to ONNX: \(reason)" }
}

/// Writes networks as ONNX graphs.
public struct ONNXExport {
    /// The graph built so far.
    public internal(set) var model = ONNXModel()
    /// What was left out of the graph, for the user (`aux1: auxiliary head, training only`).
    public private(set) var removed: [String] = []
    var usedNames = Set<String>()

    /// A tensor flowing through the graph: its name and its shape for a batch of one.
    struct Value {
        var name: String
        var shape: [Int]
    }

    /// The ONNX model of `network` reading samples of shape `inputShape` (`[C, H, W]`),
    /// with `normalization` applied first when given.
    public static func model(of network: Layer, inputShape: [Int], normalization: NormalizationStats?,
                             inputName: String = "input", outputName: String = "logits") throws -> ONNXExport {
        var e = ONNXExport()
        // State-dict names are the initializers' names: no node may take one.
        e.usedNames = Set([inputName, outputName] + network.parameters.map(\.name) + network.buffers.map(\.name))
        var x = Value(name: inputName, shape: [1] + inputShape)
        if let n = normalization, n.method != .none {
            guard n.channels == inputShape.first else {
                throw ONNXExportError(layer: "<input>", kind: "normalization", reason: "statistics for \(n.channels) channels, "
                    + "but the model reads \(describe(inputShape))")
            }
            let broadcast = [1, n.channels] + Array(repeating: 1, count: max(0, inputShape.count - 1))
            let shift = e.constant("normalization.shift", dims: broadcast, n.shift)
            let scale = e.constant("normalization.scale", dims: broadcast, n.scale)
            x = e.node("Sub", [x.name, shift], path: "normalization/sub", shape: x.shape)
            x = e.node("Mul", [x.name, scale], path: "normalization/mul", shape: x.shape)
        }
        x = try e.emit(network, path: "", input: x)
        // The graph's output must be a named value of its own, not the input or an initializer.
        if x.name == inputName || e.model.nodes.isEmpty {
            x = e.node("Identity", [x.name], path: outputName, shape: x.shape)
        }
        e.rename(x.name, to: outputName)
        func dims(_ s: [Int]) -> [ONNXValueInfo.Dimension] { [.named("N")] + s.dropFirst().map { .size($0) } }
        e.model.inputs = [ONNXValueInfo(name: inputName, dims: dims([1] + inputShape))]
        e.model.outputs = [ONNXValueInfo(name: outputName, dims: dims(x.shape))]
        return e
    }

    // MARK: - Layers

    /// Appends the nodes of `layer` (at `path`) applied to `x`; returns its output.
    mutating func emit(_ layer: Layer, path: String, input x: Value) throws -> Value {
        let shape: [Int]
        do {
            shape = try layer.outputShape(for: x.shape)
        } catch {
            throw ONNXExportError(layer: Self.display(path), kind: layer.kind, reason: "\(error)")
        }
        func join(_ child: String) -> String { path.isEmpty ? child : child.isEmpty ? path : path + "." + child }
        switch layer {
        case let s as Sequential:
            var v = x
            for (name, child) in s.children { v = try emit(child, path: join(name), input: v) }
            return v
        case let r as Residual:
            let body = try emit(r.body, path: join(r.bodyName), input: x)
            let side = try r.shortcut.map { try emit($0, path: join(r.shortcutName), input: x) } ?? x
            return node("Add", [body.name, side.name], path: path + "/add", shape: shape)
        case let c as Concat:
            var outs: [String] = []
            for (name, branch) in c.branches { outs.append(try emit(branch, path: join(name), input: x).name) }
            return node("Concat", outs, path: path, shape: shape, ["axis": .int(1)])
        case is Auxiliary:
            removed.append("\(Self.display(path)): auxiliary head (runs in training only)")
            return x
        case is Dropout:
            removed.append("\(Self.display(path)): dropout (the identity in evaluation)")
            return x
        case let l as Recurrent:
            return recurrent(l, path: path, input: x, shape: shape)
        default:
            if let v = try plain(layer, path: path, input: x, shape: shape) { return v }
            throw ONNXExportError(layer: Self.display(path), kind: layer.kind, reason: Self.unsupported(layer))
        }
    }

    /// A layer without children, or nil when it has no ONNX counterpart here.
    private mutating func plain(_ layer: Layer, path: String, input x: Value, shape: [Int]) throws -> Value? {
        switch layer {
        case let c as Conv2D:
            let inputs = [x.name, c.weight.name] + (c.bias.map { [$0.name] } ?? [])
            for p in c.parameters { addParameter(p) }
            return node("Conv", inputs, path: path, shape: shape, [
                "kernel_shape": .ints([c.kernelH, c.kernelW]), "strides": .ints([c.strideH, c.strideW]),
                "pads": .ints([c.padH, c.padW, c.padH, c.padW]), "dilations": .ints([1, 1]), "group": .int(c.groups)])
        case let l as Linear:
            if x.shape.count == 2 {
                for p in l.parameters { addParameter(p) }
                let inputs = [x.name, l.weight.name] + (l.bias.map { [$0.name] } ?? [])
                return node("Gemm", inputs, path: path, shape: shape, ["transB": .int(1)])
            }
            // [N, T, F]: the same projection at every step, x · Wᵀ (+ b).
            let wt = constant(l.weight.name + ".T", dims: [l.inputs, l.outputs],
                              Self.transposed(l.weight.value, rows: l.outputs, columns: l.inputs))
            let y = node("MatMul", [x.name, wt], path: l.bias == nil ? path : path + "/matmul", shape: shape)
            guard let b = l.bias else { return y }
            addParameter(b)
            return node("Add", [y.name, b.name], path: path, shape: shape)
        case let p as MaxPool2D:
            return node("MaxPool", [x.name], path: path, shape: shape, Self.pooling(p.window))
        case let p as AvgPool2D:
            // Phalanx divides every window by kh·kw, padding included (PyTorch's default).
            return node("AveragePool", [x.name], path: path, shape: shape,
                        Self.pooling(p.window) + [("count_include_pad", .int(1))])
        case is GlobalAvgPool:
            let pooled = node("GlobalAveragePool", [x.name], path: path + "/pool", shape: Array(x.shape.prefix(2)) + [1, 1])
            return node("Flatten", [pooled.name], path: path, shape: shape, ["axis": .int(1)])
        case let b as BatchNorm:
            for p in b.parameters { addParameter(p) }
            addBuffer(b.runningMean)
            addBuffer(b.runningVar)
            return node("BatchNormalization", [x.name, b.weight.name, b.bias.name, b.runningMean.name, b.runningVar.name],
                        path: path, shape: shape, ["epsilon": .float(b.eps)])
        case let n as LocalResponseNorm:
            // ONNX's window is c − ⌊(n−1)/2⌋ … c + ⌈(n−1)/2⌉; Phalanx's (PyTorch's) reaches
            // ⌊n/2⌋ down and ⌊(n−1)/2⌋ up. They agree for odd n only.
            guard n.size % 2 == 1 else {
                throw ONNXExportError(layer: Self.display(path), kind: layer.kind, reason: "size \(n.size) is even: ONNX's LRN "
                    + "window reaches one channel further up, Phalanx's (PyTorch's) one further down; use an odd size")
            }
            return node("LRN", [x.name], path: path, shape: shape, [
                "size": .int(n.size), "alpha": .float(n.alpha), "beta": .float(n.beta), "bias": .float(n.k)])
        case is Flatten:
            return node("Flatten", [x.name], path: path, shape: shape, ["axis": .int(1)])
        case let r as Reshape:
            let target = constant(path + ".shape", dims: [r.shape.count + 1], int64: [0] + r.shape.map(Int64.init))
            return node("Reshape", [x.name, target], path: path, shape: shape)
        case is ReLU:
            return node("Relu", [x.name], path: path, shape: shape)
        case let l as LeakyReLU:
            return node("LeakyRelu", [x.name], path: path, shape: shape, ["alpha": .float(l.slope)])
        case is Tanh:
            return node("Tanh", [x.name], path: path, shape: shape)
        case is Sigmoid:
            return node("Sigmoid", [x.name], path: path, shape: shape)
        case let p as PReLU:
            // The slope broadcasts from the right: [C, 1, …] against [N, C, …], or one value.
            let dims = p.numParameters == 1 ? [1] : [p.numParameters] + Array(repeating: 1, count: x.shape.count - 2)
            let slope = constant(p.weight.name, dims: dims, p.weight.value.scalars)
            return node("PRelu", [x.name, slope], path: path, shape: shape)
        case let u as Upsample:
            let f = Float(u.factor)
            let scales = constant(path + ".scales", dims: [4], [1, 1, f, f])
            // Output pixel (i, j) takes input pixel (⌊i/f⌋, ⌊j/f⌋), as Phalanx copies f×f blocks.
            return node("Resize", [x.name, "", scales], path: path, shape: shape, [
                "mode": .string("nearest"), "coordinate_transformation_mode": .string("asymmetric"),
                "nearest_mode": .string("floor")])
        case let t as ConvTranspose2D:
            for p in t.parameters { addParameter(p) }
            let inputs = [x.name, t.weight.name] + (t.bias.map { [$0.name] } ?? [])
            return node("ConvTranspose", inputs, path: path, shape: shape, [
                "kernel_shape": .ints([t.kernelH, t.kernelW]), "strides": .ints([t.strideH, t.strideW]),
                "pads": .ints([t.padH, t.padW, t.padH, t.padW]), "output_padding": .ints([t.outputPadH, t.outputPadW]),
                "group": .int(1)])
        default:
            return nil
        }
    }

    /// Why a layer kind without an ONNX form here is refused.
    private static func unsupported(_ layer: Layer) -> String {
        switch layer {
        case is Embedding: "it reads token ids; export writes models that read images"
        case is EncoderDecoder: "encoder–decoders decode step by step with their own state; export writes image classifiers"
        default: "no ONNX operator is written for this layer kind"
        }
    }

    private static func pooling(_ w: PoolWindow) -> [(name: String, value: ONNXAttribute)] {
        [("kernel_shape", .ints([w.kernelH, w.kernelW])), ("strides", .ints([w.strideH, w.strideW])),
         ("pads", .ints([w.padH, w.padW, w.padH, w.padW]))]
    }

    static func display(_ path: String) -> String { path.isEmpty ? "<model>" : path }

    // MARK: - Graph building

    /// A node named after `path` with one output; returns the output.
    mutating func node(_ op: String, _ inputs: [String], path: String, shape: [Int],
                       _ attributes: KeyValuePairs<String, ONNXAttribute> = [:]) -> Value {
        node(op, inputs, path: path, shape: shape, attributes.map { (name: $0.key, value: $0.value) })
    }

    mutating func node(_ op: String, _ inputs: [String], path: String, shape: [Int],
                       _ attributes: [(name: String, value: ONNXAttribute)]) -> Value {
        let name = unique(path.isEmpty ? op : path)
        model.nodes.append(ONNXNode(op, inputs: inputs, outputs: [name], name: name, attributes: attributes))
        return Value(name: name, shape: shape)
    }

    /// Adds a float32 initializer; returns its (unique) name.
    mutating func constant(_ name: String, dims: [Int], _ values: [Float]) -> String {
        precondition(dims.reduce(1, *) == values.count, "ONNX constant \(name): \(values.count) values for \(dims)")
        let n = unique(name)
        model.initializers.append(ONNXTensor(name: n, dims: dims, values: .float(values)))
        return n
    }

    /// Adds an int64 initializer (shapes); returns its name.
    mutating func constant(_ name: String, dims: [Int], int64 values: [Int64]) -> String {
        let n = unique(name)
        model.initializers.append(ONNXTensor(name: n, dims: dims, values: .int64(values)))
        return n
    }

    /// Adds a parameter as an initializer under its state-dict name and shape.
    private mutating func addParameter(_ p: Parameter) { addTensor(p.name, p.value) }
    private mutating func addBuffer(_ b: Buffer) { addTensor(b.name, b.value) }

    private mutating func addTensor(_ name: String, _ t: Tensor) {
        model.initializers.append(ONNXTensor(name: name, dims: t.shape,
                                             values: .float(t.scalars)))
    }

    mutating func unique(_ base: String) -> String {
        var name = base, k = 1
        while usedNames.contains(name) { k += 1; name = "\(base)_\(k)" }
        usedNames.insert(name)
        return name
    }

    /// Gives the value `old` (a node's output) the name `new`.
    private mutating func rename(_ old: String, to new: String) {
        guard old != new else { return }
        for i in model.nodes.indices {
            model.nodes[i].outputs = model.nodes[i].outputs.map { $0 == old ? new : $0 }
            model.nodes[i].inputs = model.nodes[i].inputs.map { $0 == old ? new : $0 }
        }
    }

    /// The row-major transpose of a `rows × columns` matrix.
    static func transposed(_ t: Tensor, rows: Int, columns: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        out.withUnsafeMutableBufferPointer { BLAS.transpose(rows: rows, cols: columns, t.data, $0.baseAddress!) }
        return out
    }
}
