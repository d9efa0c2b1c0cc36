// ONNX export: the protocol-buffer bytes decode back to what was written, a small
// network becomes the expected operators and initializers, LSTM gates are reordered
// from PyTorch's i, f, g, o to ONNX's i, o, f, c, and a layer with no ONNX form is an
// error that names it. (onnxruntime's numbers against Phalanx's: bench/onnx_check.py.)
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN
import Testing
@testable import PhalanxTraining

/// The parts of a decoded ModelProto the tests look at.
private struct DecodedModel {
    var irVersion: UInt64 = 0
    var opset: UInt64 = 0
    var nodes: [(op: String, inputs: [String], outputs: [String], attributes: [String: ProtobufReader.Value])] = []
    var initializers: [(name: String, dims: [Int], type: UInt64, raw: [UInt8])] = []
    var inputs: [String] = []
    var outputs: [String] = []

    init(_ bytes: [UInt8]) throws {
        func string(_ v: ProtobufReader.Value) -> String {
            if case .bytes(let b) = v { return String(decoding: b, as: UTF8.self) }
            return "?"
        }
        func message(_ v: ProtobufReader.Value) throws -> [(number: Int, value: ProtobufReader.Value)] {
            guard case .bytes(let b) = v, let f = ProtobufReader.fields(b) else { throw DecodeFailure() }
            return f
        }
        for (n, v) in try #require(ProtobufReader.fields(bytes)) {
            switch (n, v) {
            case (1, .varint(let x)): irVersion = x
            case (8, _): for case (2, .varint(let x)) in try message(v) { opset = x }
            case (7, _):
                for (g, gv) in try message(v) {
                    switch g {
                    case 1:
                        var node = (op: "", inputs: [String](), outputs: [String](), attributes: [String: ProtobufReader.Value]())
                        for (k, kv) in try message(gv) {
                            switch k {
                            case 1: node.inputs.append(string(kv))
                            case 2: node.outputs.append(string(kv))
                            case 4: node.op = string(kv)
                            case 5:
                                let a = try message(kv)
                                let name = a.first { $0.number == 1 }.map { string($0.value) } ?? ""
                                if let value = a.first(where: { [2, 3, 4].contains($0.number) }) { node.attributes[name] = value.value }
                            default: break
                            }
                        }
                        nodes.append(node)
                    case 5:
                        var t = (name: "", dims: [Int](), type: UInt64(0), raw: [UInt8]())
                        for (k, kv) in try message(gv) {
                            switch (k, kv) {
                            case (1, .varint(let d)): t.dims.append(Int(d))
                            case (2, .varint(let d)): t.type = d
                            case (8, _): t.name = string(kv)
                            case (9, .bytes(let b)): t.raw = Array(b)
                            default: break
                            }
                        }
                        initializers.append(t)
                    case 11: inputs.append(string(try message(gv).first { $0.number == 1 }!.value))
                    case 12: outputs.append(string(try message(gv).first { $0.number == 1 }!.value))
                    default: break
                    }
                }
            default: break
            }
        }
    }

    func floats(_ name: String) -> [Float]? {
        guard let t = initializers.first(where: { $0.name == name }), t.type == 1 else { return nil }
        return stride(from: 0, to: t.raw.count, by: 4).map { (i: Int) -> Float in
            var bits: UInt32 = 0
            for j in 0..<4 { bits |= UInt32(t.raw[i + j]) << UInt32(8 * j) }
            return Float(bitPattern: bits)
        }
    }

    func dims(_ name: String) -> [Int]? { initializers.first { $0.name == name }?.dims }
}

private struct DecodeFailure: Error {}

@Suite(.serialized) struct ONNXExportTests {
    @Test func aTrainedCheckpointExportsWithItsNormalisation() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        var options = TrainOptions()
        options.quiet = true
        let loaded = try ConfigLoader.load(yaml: data.config(), overrides: ["train.epochs=1"])
        let checkpoint = URL(fileURLWithPath: try Trainer(loaded, options: options).run().checkpoint)
        let export = try ONNXExport.checkpoint(checkpoint)
        let file = URL(fileURLWithPath: data.directory).appendingPathComponent("tiny.onnx")
        try export.write(to: file)
        let d = try DecodedModel(Array(try Data(contentsOf: file)))
        #expect(d.nodes.map(\.op) == ["Sub", "Mul", "Conv", "BatchNormalization", "Relu", "MaxPool", "Flatten", "Gemm"])
        let model = try LoadedModel(checkpoint)
        let stats = try #require(model.normalization)
        #expect(d.floats("normalization.shift") == stats.shift && d.floats("normalization.scale") == stats.scale)
        #expect(d.floats("fc.weight") == model.state.entries["fc.weight"]?.tensor.scalars)
        #expect(export.inputDescription.contains("float32 [N, 1, 8, 8]") && export.removed.count == 1)
        // The logits `evaluate --logits` writes are what the probabilities come from.
        let test = try model.dataset("test", of: try model.data())
        let logits = try model.logits(on: test, batchSize: 7)
        let p = Tensor(shape: logits.shape)
        softmaxProbabilities(logits, into: p)
        let probabilities = try model.probabilities(on: test, batchSize: 7)
        #expect(logits.shape == [60, 3] && p.scalars == probabilities.scalars)
        #expect { try export.write(to: URL(fileURLWithPath: "\(data.directory)/missing/tiny.onnx")) } throws: {
            "\($0)".hasPrefix("\(data.directory)/missing/tiny.onnx: cannot write the ONNX model")
        }
    }

    @Test func writerBytesAreTheWireFormatAndReadBack() throws {
        var w = ProtobufWriter()
        w.int(1, 300)          // key 0x08, varint 300 = AC 02
        w.int(2, -1)           // ten bytes, sign-extended
        w.float(3, 1)          // key 0x1D, 00 00 80 3F
        w.string(4, "Conv")    // key 0x22, length 4
        w.message(5) { $0.int(1, 7) }
        w.double(6, 0.5)       // key 0x31, 00 … E0 3F
        #expect(w.bytes == [0x08, 0xAC, 0x02,
                            0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                            0x1D, 0x00, 0x00, 0x80, 0x3F,
                            0x22, 0x04, 0x43, 0x6F, 0x6E, 0x76,
                            0x2A, 0x02, 0x08, 0x07,
                            0x31, 0, 0, 0, 0, 0, 0, 0xE0, 0x3F])
        let fields = try #require(ProtobufReader.fields(w.bytes))
        #expect(fields.map(\.number) == [1, 2, 3, 4, 5, 6])
        #expect(fields[0].value == .varint(300))
        #expect(fields[1].value == .varint(UInt64.max))
        #expect(fields[2].value == .fixed32(Float(1).bitPattern))
        #expect(fields[3].value == .bytes(ArraySlice(Array("Conv".utf8))))
        #expect(fields[4].value == .bytes(ArraySlice([0x08, 0x07])))
        #expect(fields[5].value == .fixed64(Double(0.5).bitPattern))
        // Cut short anywhere inside a field, the bytes are not a message.
        for cut in [2, 5, 16, 22, 27, 36] { #expect(ProtobufReader.fields(w.bytes.prefix(cut)) == nil) }
    }

    @Test func modelMessageDecodesBack() throws {
        var m = ONNXModel()
        m.nodes = [ONNXNode("Relu", inputs: ["x"], outputs: ["y"], name: "relu", attributes: [("alpha", .float(0.5)), ("k", .int(-2))])]
        m.initializers = [ONNXTensor(name: "w", dims: [2, 1], values: .float([1.5, -2])),
                          ONNXTensor(name: "s", dims: [2], values: .int64([0, -1]))]
        m.inputs = [ONNXValueInfo(name: "x", dims: [.named("N"), .size(2)])]
        m.outputs = [ONNXValueInfo(name: "y", dims: [.named("N"), .size(2)])]
        let d = try DecodedModel(m.encoded())
        #expect(d.irVersion == 8 && d.opset == 17)
        #expect(d.nodes.map(\.op) == ["Relu"] && d.nodes[0].inputs == ["x"] && d.nodes[0].outputs == ["y"])
        #expect(d.nodes[0].attributes["alpha"] == .fixed32(Float(0.5).bitPattern))
        #expect(d.nodes[0].attributes["k"] == .varint(UInt64(bitPattern: -2)))
        #expect(d.floats("w") == [1.5, -2] && d.dims("w") == [2, 1])
        let s = try #require(d.initializers.first { $0.name == "s" })
        #expect(s.type == 7 && s.raw == [0, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8))
        #expect(d.inputs == ["x"] && d.outputs == ["y"])
    }

    @Test func smallCNNBecomesItsOperatorsInOrder() throws {
        let loaded = try ConfigLoader.load(yaml: """
        name: tiny
        model:
          input: [2, 6, 6]
          layers:
            - {kind: conv2d, name: conv1, out: 4, kernel: 3, padding: 1, groups: 2}
            - {kind: batchnorm, name: bn1}
            - {kind: relu}
            - {kind: lrn, name: norm1, size: 3}
            - {kind: maxpool, name: pool1, kernel: 2}
            - kind: residual
              name: block
              layers: [{kind: conv2d, name: conv, out: 4, kernel: 1, bias: false}]
            - kind: concat
              name: mix
              branches:
                - {kind: conv2d, name: a, out: 2, kernel: 1}
                - {kind: avgpool, name: b, kernel: 3, stride: 1, padding: 1}
            - kind: auxiliary
              name: aux1
              layers: [{kind: flatten}, {kind: linear, name: fc, out: 3}]
            - {kind: global_avgpool}
            - {kind: dropout, p: 0.5}
            - {kind: linear, name: fc, out: 3}
        """)
        let network = try ModelBuilder.build(loaded.config.model, seed: 1).network
        let stats = NormalizationStats(method: .standardize, shift: [10, 20], scale: [0.5, 0.25])
        let export = try ONNXExport.model(of: network, inputShape: [2, 6, 6], normalization: stats)
        let d = try DecodedModel(export.model.encoded())
        #expect(d.nodes.map(\.op) == ["Sub", "Mul", "Conv", "BatchNormalization", "Relu", "LRN", "MaxPool",
                                      "Conv", "Add", "Conv", "AveragePool", "Concat", "GlobalAveragePool", "Flatten", "Gemm"])
        #expect(d.inputs == ["input"] && d.outputs == ["logits"] && d.nodes.last?.outputs == ["logits"])
        let conv = d.nodes[2]
        #expect(conv.inputs == ["normalization/mul", "conv1.weight", "conv1.bias"])
        #expect(conv.attributes["group"] == .varint(2))
        #expect(d.dims("conv1.weight") == [4, 1, 3, 3] && d.dims("bn1.running_var") == [4])
        #expect(d.dims("normalization.shift") == [1, 2, 1, 1] && d.floats("normalization.scale") == [0.5, 0.25])
        #expect(d.dims("block.body.conv.weight") == [4, 4, 1, 1] && d.dims("fc.weight") == [3, 6])
        // The residual sum adds the block's input (the pooled maps) to its body's output.
        #expect(d.nodes[8].inputs == [d.nodes[7].outputs[0], d.nodes[6].outputs[0]])
        #expect(d.floats("fc.bias")?.count == 3 && d.initializers.allSatisfy { !$0.name.hasPrefix("aux1") })
        #expect(export.removed.count == 2 && export.removed[0].hasPrefix("aux1") && export.removed[1].hasPrefix("dropout"))
    }

    @Test func lstmGatesGoFromIFGOToIOFC() throws {
        var rng = RNG(seed: 5)
        let H = 2, F = 3
        let lstm = Recurrent(cell: .lstm, inputSize: F, hidden: H, peephole: true, rng: &rng)
        let w = try #require(lstm.weights.first?.first)
        // Distinct values: weight_ih[r][c] = 100 r + c, biases and peepholes by index.
        for r in 0..<(4 * H) { for c in 0..<F { w.weightIH.value.data[r * F + c] = Float(100 * r + c) } }
        for k in 0..<(4 * H) { w.biasIH.value.data[k] = Float(k); w.biasHH.value.data[k] = Float(1000 + k) }
        for k in 0..<(3 * H) { w.peephole!.value.data[k] = Float(-k) }
        let network = Sequential([("lstm", lstm as Layer), ("fc", Linear(inputs: H, outputs: 3, rng: &rng))])
        let d = try DecodedModel(try ONNXExport.model(of: network, inputShape: [1, 4, F], normalization: nil).model.encoded())
        #expect(d.nodes.map(\.op) == ["Reshape", "Transpose", "LSTM", "Transpose", "Reshape", "Gemm"])
        #expect(d.dims("lstm.W") == [1, 4 * H, F] && d.dims("lstm.R") == [1, 4 * H, H] && d.dims("lstm.B") == [1, 8 * H])
        // By hand: ONNX row blocks i, o, f, c are PyTorch's blocks 0 (i), 3 (o), 1 (f), 2 (g).
        var expected: [Float] = []
        for block in [0, 3, 1, 2] { for r in (block * H)..<((block + 1) * H) { for c in 0..<F { expected.append(Float(100 * r + c)) } } }
        #expect(d.floats("lstm.W") == expected)
        #expect(d.floats("lstm.B") == [0, 1, 6, 7, 2, 3, 4, 5, 1000, 1001, 1006, 1007, 1002, 1003, 1004, 1005])
        // Peepholes: Phalanx's i, f, o → ONNX's i, o, f; P is the LSTM's eighth input.
        #expect(d.floats("lstm.P") == [0, -1, -4, -5, -2, -3])
        #expect(d.nodes[2].inputs.count == 8 && d.nodes[2].inputs[7] == "lstm.P" && d.nodes[2].inputs[4] == "")
        #expect(d.nodes[2].attributes["hidden_size"] == .varint(UInt64(H)))
        #expect(ONNXExport.reorderBlocks([1, 2, 3, 4, 5, 6, 7, 8], order: ONNXExport.lstmGateOrder) == [1, 2, 7, 8, 3, 4, 5, 6])
    }

    @Test func layersWithoutAnONNXFormAreNamed() throws {
        var rng = RNG(seed: 2)
        let tokens = Sequential([("tok", Embedding(count: 5, width: 3, rng: &rng) as Layer)])
        #expect { try ONNXExport.model(of: tokens, inputShape: [4], normalization: nil) } throws: { error in
            let e = error as? ONNXExportError
            return e?.layer == "tok" && e?.kind == "Embedding" && "\(error)".contains("token ids")
        }
        let inner = Sequential([("norm", LocalResponseNorm(size: 4) as Layer)])
        let even = Sequential([("features", inner as Layer)])
        #expect { try ONNXExport.model(of: even, inputShape: [6, 2, 2], normalization: nil) } throws: { error in
            "\(error)".hasPrefix("cannot export layer 'features.norm' (LocalResponseNorm) to ONNX: size 4 is even")
        }
    }
}
