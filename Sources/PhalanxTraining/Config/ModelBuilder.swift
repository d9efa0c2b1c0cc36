// Builds a network from the model-config language, checking every layer's settings
// and shapes as it goes; a problem is a ConfigError naming the layer's key and line.
import PhalanxCore
import PhalanxNN

/// A built network and what the trainer needs to know about it.
public struct BuiltModel {
    /// The network (a Sequential of the config's named layers).
    public let network: Sequential
    /// Shape of one sample's output (`[10]` for ten classes).
    public let outputShape: [Int]
    /// Dropout layers, whose random state a checkpoint keeps.
    public let dropouts: [Dropout]
    /// Auxiliary classifiers, which the trainer gives each batch's target.
    public let auxiliaries: [Auxiliary]
}

/// Turns `model:` of a config into layers.
public struct ModelBuilder {
    private let fail: (String, String) -> ConfigError
    private var rng: RNG
    private let seed: UInt64
    private var dropouts: [Dropout] = []
    private var auxiliaries: [Auxiliary] = []
    private let lossKind: LossKind
    private let vocabularySize: Int?

    /// `fail(key, message)` makes the error for a dotted key (see `LoadedConfig.error`);
    /// `loss` is the loss auxiliary classifiers use (the training loss).
    public static func build(_ config: ModelConfig, seed: UInt64, loss: LossKind = .crossEntropy, vocabulary: Int? = nil,
                             fail: @escaping (String, String) -> ConfigError = { ConfigError(file: "<config>", key: $0, $1) })
        throws(ConfigError) -> BuiltModel {
        var builder = ModelBuilder(fail: fail, rng: RNG(seed: seed, stream: 1), seed: seed, lossKind: loss,
                                   vocabularySize: vocabulary)
        guard !config.input.isEmpty, config.input.allSatisfy({ $0 > 0 }) else {
            throw fail("model.input", "must be a list of positive sizes such as [1, 28, 28], got \(config.input)")
        }
        var shape = [1] + config.input
        let network = try builder.sequential(config.layers, key: "model.layers", shape: &shape)
        // Nothing consumes the gradient with respect to the data: skip computing it.
        switch network.children.first?.layer {
        case let conv as Conv2D: conv.needsInputGradient = false
        case let linear as Linear: linear.needsInputGradient = false
        default: break
        }
        return BuiltModel(network: network, outputShape: Array(shape.dropFirst()), dropouts: builder.dropouts,
                          auxiliaries: builder.auxiliaries)
    }

    /// Default state-dict names `<kind><n>`, counted per kind within one list.
    static func names(of specs: [LayerSpec]) -> [String] {
        var counts: [String: Int] = [:]
        return specs.map { s in
            counts[s.kind, default: 0] += 1
            return s.name ?? "\(s.kind)\(counts[s.kind]!)"
        }
    }

    /// A list with every `repeat: n` spec written out as n copies, each with the index of
    /// the spec it came from (for error keys). A named spec's copies are `<name>1` … `<name>n`.
    static func expandingRepeats(_ specs: [LayerSpec], key: String,
                                 fail: (String, String) -> ConfigError) throws(ConfigError) -> [(LayerSpec, Int)] {
        var out: [(LayerSpec, Int)] = []
        for (i, spec) in specs.enumerated() {
            guard let n = spec.repeat else { out.append((spec, i)); continue }
            guard n >= 1 else { throw fail("\(key).\(i).repeat", "must be at least 1, got \(n)") }
            for c in 1...n {
                var copy = spec
                copy.repeat = nil
                if let name = spec.name { copy.name = "\(name)\(c)" }
                out.append((copy, i))
            }
        }
        return out
    }

    private mutating func sequential(_ listed: [LayerSpec], key: String, shape: inout [Int]) throws(ConfigError) -> Sequential {
        guard !listed.isEmpty else { throw fail(key, "needs at least one layer") }
        let expanded = try ModelBuilder.expandingRepeats(listed, key: key, fail: fail)
        let specs = expanded.map(\.0)
        let names = ModelBuilder.names(of: specs)
        var seen = Set<String>()
        var children: [(String, Layer)] = []
        for (i, spec) in specs.enumerated() {
            let k = "\(key).\(expanded[i].1)"
            let name = names[i]
            if name.isEmpty || name.contains(".") { throw fail(k + ".name", "'\(name)' must be non-empty and have no dot") }
            if !seen.insert(name).inserted { throw fail(k + ".name", "two layers in this list are named '\(name)'") }
            let layer = try self.layer(spec, key: k, shape: shape)
            do {
                shape = try layer.outputShape(for: shape)
            } catch {
                throw fail(k, "\(error.kind): \(error.message)")
            }
            children.append((name, layer))
        }
        return Sequential(children)
    }

    private static let allowedKeys: [String: Set<String>] = [
        "conv2d": ["out", "kernel", "stride", "padding", "groups", "bias", "init"],
        "linear": ["out", "bias", "init"],
        "relu": [], "tanh": [], "sigmoid": [], "flatten": [], "global_avgpool": [],
        "leaky_relu": ["slope"], "prelu": ["per_channel"], "dropout": ["p"],
        "maxpool": ["kernel", "stride", "padding"], "avgpool": ["kernel", "stride", "padding"],
        "batchnorm": ["momentum", "eps"], "lrn": ["size", "alpha", "beta", "k"],
        "sequential": ["layers"], "residual": ["layers", "shortcut"], "concat": ["branches"],
        "auxiliary": ["layers", "weight"],
        "rnn": ["out", "num_layers", "bidirectional", "return_sequences"],
        "embedding": ["out"],
        "lstm": ["out", "num_layers", "bidirectional", "peephole", "return_sequences"],
    ]

    private mutating func layer(_ s: LayerSpec, key: String, shape: [Int]) throws(ConfigError) -> Layer {
        guard let allowed = ModelBuilder.allowedKeys[s.kind] else {
            let kinds = ModelBuilder.allowedKeys.keys.sorted().joined(separator: ", ")
            throw fail(key + ".kind", "unknown layer kind '\(s.kind)'; known kinds: \(kinds)")
        }
        for extra in s.setKeys where !allowed.contains(extra) {
            throw fail(key + "." + extra, "does not apply to a \(s.kind) layer")
        }
        func required<T>(_ v: T?, _ name: String) throws(ConfigError) -> T {
            guard let v else { throw fail(key, "a \(s.kind) layer needs '\(name)'") }
            return v
        }
        func initializer() throws(ConfigError) -> Initializer? {
            guard let name = s.initializer else { return nil }
            guard let i = Initializer(rawValue: name) else {
                throw fail(key + ".init", "unknown initialiser '\(name)'; known: \(Initializer.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return i
        }
        func wrap<T>(_ make: () throws(ShapeError) -> T) throws(ConfigError) -> T {
            do { return try make() } catch { throw fail(key, "\(error.kind): \(error.message)") }
        }
        let channels = shape.count > 1 ? shape[1] : 0
        switch s.kind {
        case "conv2d":
            guard shape.count == 4 else { throw fail(key, "conv2d needs input [N, C, H, W], gets \(describe(shape))") }
            let out = try required(s.out, "out"), k = try required(s.kernel, "kernel")
            let st = s.stride ?? IntPair(1, 1), p = s.padding ?? IntPair(0, 0)
            let ini = try initializer() ?? .he
            return try wrap { () throws(ShapeError) in
                try Conv2D(inChannels: channels, outChannels: out, kernel: (k.h, k.w), stride: (st.h, st.w),
                           padding: (p.h, p.w), groups: s.groups ?? 1, bias: s.bias ?? true,
                           initializer: ini, rng: &rng)
            }
        case "linear":
            guard shape.count == 2 || shape.count == 3 else {
                throw fail(key, "linear needs input [N, features] or [N, T, features], gets \(describe(shape)); put a flatten before it")
            }
            // In a language model a linear layer without `out` projects to the vocabulary.
            let out = try required(s.out ?? vocabularySize, "out")
            guard out > 0 else { throw fail(key + ".out", "must be positive") }
            return Linear(inputs: shape[shape.count - 1], outputs: out, bias: s.bias ?? true,
                          initializer: try initializer() ?? .lecun, rng: &rng)
        case "relu": return ReLU()
        case "tanh": return Tanh()
        case "sigmoid": return Sigmoid()
        case "flatten": return Flatten()
        case "global_avgpool": return GlobalAvgPool()
        case "leaky_relu": return LeakyReLU(slope: s.slope ?? 0.01)
        case "prelu": return PReLU(numParameters: (s.perChannel ?? false) ? channels : 1)
        case "dropout":
            let p = s.p ?? 0.5
            guard p >= 0 && p < 1 else { throw fail(key + ".p", "dropout probability \(p) must lie in [0, 1)") }
            let d = Dropout(p: p, seed: seed, stream: 1000 + UInt64(dropouts.count))
            dropouts.append(d)
            return d
        case "maxpool", "avgpool":
            let k = s.kernel ?? IntPair(2, 2), p = s.padding ?? IntPair(0, 0)
            let st = s.stride.map { ($0.h, $0.w) }
            return try wrap { () throws(ShapeError) -> Layer in
                s.kind == "maxpool"
                    ? try MaxPool2D(kernel: (k.h, k.w), stride: st, padding: (p.h, p.w))
                    : try AvgPool2D(kernel: (k.h, k.w), stride: st, padding: (p.h, p.w))
            }
        case "batchnorm":
            guard shape.count >= 2 else { throw fail(key, "batchnorm needs input [N, C, ...], gets \(describe(shape))") }
            return BatchNorm(features: channels, eps: s.eps ?? 1e-5, momentum: s.momentum ?? 0.1)
        case "lrn":
            guard shape.count >= 3 else { throw fail(key, "lrn needs input [N, C, ...], gets \(describe(shape))") }
            return LocalResponseNorm(size: s.size ?? 5, alpha: s.alpha ?? 1e-4, beta: s.beta ?? 0.75, k: s.k ?? 1)
        case "sequential":
            var sh = shape
            return try sequential(try required(s.layers, "layers"), key: key + ".layers", shape: &sh)
        case "residual":
            var bodyShape = shape
            let body = try sequential(try required(s.layers, "layers"), key: key + ".layers", shape: &bodyShape)
            var shortcut: Layer?
            if let sc = s.shortcut {
                var scShape = shape
                shortcut = try sequential(sc, key: key + ".shortcut", shape: &scShape)
            }
            return Residual(body: body, shortcut: shortcut)
        case "concat":
            let branches = try required(s.branches, "branches")
            guard !branches.isEmpty else { throw fail(key + ".branches", "needs at least one branch") }
            let names = ModelBuilder.names(of: branches)
            var built: [(String, Layer)] = []
            for (i, b) in branches.enumerated() {
                built.append((names[i], try layer(b, key: "\(key).branches.\(i)", shape: shape)))
            }
            return Concat(built)
        case "embedding":
            guard shape.count == 2 else { throw fail(key, "embedding needs input [N, T] of token ids, gets \(describe(shape))") }
            guard let vocabulary = vocabularySize else {
                throw fail(key, "an embedding needs a vocabulary: use it with a text data set")
            }
            let width = try required(s.out, "out")
            guard width > 0 else { throw fail(key + ".out", "must be positive") }
            return Embedding(count: vocabulary, width: width, rng: &rng)
        case "rnn", "lstm":
            let features: Int
            if shape.count == 3 { features = shape[2] } else if shape.count == 4 && shape[1] == 1 { features = shape[3] } else {
                throw fail(key, "\(s.kind) needs input [N, T, F] (or [N, 1, T, F], an image read row by row), gets \(describe(shape))")
            }
            let hidden = try required(s.out, "out")
            guard hidden > 0 else { throw fail(key + ".out", "must be positive") }
            let stacked = s.numLayers ?? 1
            guard stacked > 0 else { throw fail(key + ".num_layers", "must be at least 1") }
            return Recurrent(cell: s.kind == "lstm" ? .lstm : .rnn, inputSize: features, hidden: hidden, layers: stacked,
                             bidirectional: s.bidirectional ?? false, peephole: s.peephole ?? false,
                             returnSequences: s.returnSequences ?? false, rng: &rng)
        case "auxiliary":
            let weight = s.weight ?? 0.3
            guard weight >= 0 && weight.isFinite else { throw fail(key + ".weight", "must be a non-negative number, got \(weight)") }
            var headShape = shape
            let head = try sequential(try required(s.layers, "layers"), key: key + ".layers", shape: &headShape)
            let aux = Auxiliary(head: head, loss: lossKind.makeLoss(), weight: weight)
            auxiliaries.append(aux)
            return aux
        default:
            throw fail(key + ".kind", "unknown layer kind '\(s.kind)'")
        }
    }
}
