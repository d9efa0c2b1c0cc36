// The ONNX messages Phalanx writes, encoded field by field with `ProtobufWriter`.
//
// Field numbers from onnx/onnx.proto (IR version 8; syntax proto2, so repeated scalars
// are written unpacked, one key each):
//
//     ModelProto        { int64 ir_version = 1; string producer_name = 2; string producer_version = 3;
//                         string doc_string = 6; GraphProto graph = 7;
//                         repeated OperatorSetIdProto opset_import = 8;
//                         repeated StringStringEntryProto metadata_props = 14; }
//     OperatorSetIdProto { string domain = 1; int64 version = 2; }
//     StringStringEntryProto { string key = 1; string value = 2; }
//     GraphProto        { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
//                         string doc_string = 10; repeated ValueInfoProto input = 11, output = 12; }
//     NodeProto         { repeated string input = 1, output = 2; string name = 3; string op_type = 4;
//                         repeated AttributeProto attribute = 5; }
//     AttributeProto    { string name = 1; float f = 2; int64 i = 3; bytes s = 4;
//                         repeated float floats = 7; repeated int64 ints = 8; AttributeType type = 20; }
//                         (AttributeType FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7)
//     TensorProto       { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9; }
//                         (DataType FLOAT 1, INT64 7; raw_data little-endian, row-major)
//     ValueInfoProto    { string name = 1; TypeProto type = 2; }
//     TypeProto         { Tensor tensor_type = 1; }   Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
//     TensorShapeProto  { repeated Dimension dim = 1; }   Dimension { int64 dim_value = 1; string dim_param = 2; }
//
// Left out: sparse initializers, external data, functions, training info, subgraphs.

/// An attribute of an ONNX node.
public enum ONNXAttribute: Equatable, Sendable {
    case int(Int)
    case ints([Int])
    case float(Float)
    case floats([Float])
    case string(String)
}

/// One operator application.
public struct ONNXNode: Equatable, Sendable {
    public var opType: String
    public var inputs: [String]
    public var outputs: [String]
    public var name: String
    public var attributes: [(name: String, value: ONNXAttribute)]

    public init(_ opType: String, inputs: [String], outputs: [String], name: String,
                attributes: [(name: String, value: ONNXAttribute)] = []) {
        self.opType = opType
        self.inputs = inputs
        self.outputs = outputs
        self.name = name
        self.attributes = attributes
    }

    public static func == (a: ONNXNode, b: ONNXNode) -> Bool {
        a.opType == b.opType && a.inputs == b.inputs && a.outputs == b.outputs && a.name == b.name
            && a.attributes.map(\.name) == b.attributes.map(\.name) && a.attributes.map(\.value) == b.attributes.map(\.value)
    }
}

/// A constant tensor of the graph (weights, shapes).
public struct ONNXTensor: Equatable, Sendable {
    public enum Values: Equatable, Sendable {
        case float([Float])
        case int64([Int64])
    }
    public var name: String
    public var dims: [Int]
    public var values: Values

    public init(name: String, dims: [Int], values: Values) {
        self.name = name
        self.dims = dims
        self.values = values
    }
}

/// A graph input or output: a float32 tensor whose dimensions are sizes or names (`N`).
public struct ONNXValueInfo: Equatable, Sendable {
    public enum Dimension: Equatable, Sendable {
        case size(Int)
        case named(String)
    }
    public var name: String
    public var dims: [Dimension]

    public init(name: String, dims: [Dimension]) {
        self.name = name
        self.dims = dims
    }
}

/// A model: one graph, the opset it is written against, and notes for its readers.
public struct ONNXModel: Sendable {
    public var nodes: [ONNXNode] = []
    public var initializers: [ONNXTensor] = []
    public var inputs: [ONNXValueInfo] = []
    public var outputs: [ONNXValueInfo] = []
    public var graphName = "phalanx"
    public var docString = ""
    public var metadata: [(key: String, value: String)] = []
    /// The default-domain opset; every operator written is defined the same way in 13–21.
    public var opset = 17
    public var irVersion = 8
    public var producerVersion = "1"

    public init() {}

    /// The `ModelProto` bytes (what a `.onnx` file holds).
    public func encoded() -> [UInt8] {
        var w = ProtobufWriter()
        w.int(1, Int64(irVersion))
        w.string(2, "phalanx")
        w.string(3, producerVersion)
        if !docString.isEmpty { w.string(6, docString) }
        w.message(7) { g in encodeGraph(&g) }
        w.message(8) { o in o.string(1, ""); o.int(2, Int64(opset)) }
        for (key, value) in metadata { w.message(14) { e in e.string(1, key); e.string(2, value) } }
        return w.bytes
    }

    private func encodeGraph(_ g: inout ProtobufWriter) {
        for node in nodes { g.message(1) { Self.encode(node, &$0) } }
        g.string(2, graphName)
        for t in initializers { g.message(5) { Self.encode(t, &$0) } }
        for v in inputs { g.message(11) { Self.encode(v, &$0) } }
        for v in outputs { g.message(12) { Self.encode(v, &$0) } }
    }

    static func encode(_ node: ONNXNode, _ w: inout ProtobufWriter) {
        for i in node.inputs { w.string(1, i) }
        for o in node.outputs { w.string(2, o) }
        w.string(3, node.name)
        w.string(4, node.opType)
        for (name, value) in node.attributes {
            w.message(5) { a in
                a.string(1, name)
                switch value {
                case .float(let f): a.float(2, f); a.int(20, 1)
                case .int(let i): a.int(3, Int64(i)); a.int(20, 2)
                case .string(let s): a.string(4, s); a.int(20, 3)
                case .floats(let fs): for f in fs { a.float(7, f) }; a.int(20, 6)
                case .ints(let xs): for x in xs { a.int(8, Int64(x)) }; a.int(20, 7)
                }
            }
        }
    }

    static func encode(_ t: ONNXTensor, _ w: inout ProtobufWriter) {
        for d in t.dims { w.int(1, Int64(d)) }
        var raw: [UInt8] = []
        switch t.values {
        case .float(let v):
            w.int(2, 1)
            raw.reserveCapacity(v.count * 4)
            for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
        case .int64(let v):
            w.int(2, 7)
            raw.reserveCapacity(v.count * 8)
            for x in v { withUnsafeBytes(of: x.littleEndian) { raw.append(contentsOf: $0) } }
        }
        w.string(8, t.name)
        w.bytes(9, raw)
    }

    static func encode(_ v: ONNXValueInfo, _ w: inout ProtobufWriter) {
        w.string(1, v.name)
        w.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, 1)  // float32
                tensor.message(2) { shape in
                    for d in v.dims {
                        shape.message(1) { dim in
                            switch d {
                            case .size(let n): dim.int(1, Int64(n))
                            case .named(let s): dim.string(2, s)
                            }
                        }
                    }
                }
            }
        }
    }
}
