// The layer-kind registry: one entry per `kind:` of the model config, holding the keys
// the kind takes and how to build it. A new layer kind is one entry here (plus a
// `LayerSpec` field if it brings a key no kind had), not edits in four places.
import Foundation
import PhalanxCore
import PhalanxNN

/// Where a layer is being built: its spec, its dotted key (for errors), its input shape.
public struct LayerSite {
    public let spec: LayerSpec
    /// `model.layers.3`.
    public let key: String
    /// The input shape `[N, …]` (N = 1 while building).
    public let shape: [Int]
    let fail: (String, String) -> ConfigError

    /// A config error about this layer (`sub` names one of its keys).
    public func error(_ message: String, key sub: String? = nil) -> ConfigError {
        fail(sub.map { key + "." + $0 } ?? key, message)
    }

    /// A setting the kind cannot do without.
    public func required<T>(_ value: T?, _ name: String) throws(ConfigError) -> T {
        guard let value else { throw error("a \(spec.kind) layer needs '\(name)'") }
        return value
    }

    /// The `init:` initialiser, if given.
    public func initializer() throws(ConfigError) -> Initializer? {
        guard let name = spec.initializer else { return nil }
        guard let i = Initializer(rawValue: name) else {
            throw error("unknown initialiser '\(name)'; known: \(Initializer.allCases.map(\.rawValue).joined(separator: ", "))",
                        key: "init")
        }
        return i
    }

    /// Runs a layer constructor that checks shapes, turning its error into a config error.
    public func shaped<T>(_ make: () throws(ShapeError) -> T) throws(ConfigError) -> T {
        do { return try make() } catch { throw self.error("\(error.kind): \(error.message)") }
    }

    /// Refuses a layer of more than `ModelBuilder.maxParameters` parameters before it is
    /// allocated, naming the figure.
    public func checkParameters(_ counts: Int...) throws(ConfigError) {
        var total = 1
        for c in counts {
            let (p, overflow) = total.multipliedReportingOverflow(by: max(c, 0))
            total = overflow ? .max : p
        }
        guard total <= ModelBuilder.maxParameters else {
            throw error("\(total) parameters (\(total / (1 << 28)) GiB) is more than one layer may hold; check its out and kernel")
        }
    }

    /// A number that must lie in a range, with the key named.
    public func check(_ value: Float, _ key: String, _ ok: (Float) -> Bool, _ range: String) throws(ConfigError) {
        guard value.isFinite && ok(value) else { throw error("must be \(range), got \(value)", key: key) }
    }

    /// The channel count of an `[N, C, …]` input (0 for a flat one).
    public var channels: Int { shape.count > 1 ? shape[1] : 0 }
}

/// One layer kind of the model config.
public struct LayerKind: Sendable {
    /// The `kind:` value (`conv2d`).
    public let name: String
    /// The spec keys the kind takes besides `kind`, `name` and `repeat`.
    public let keys: Set<String>
    let build: @Sendable (inout ModelBuilder, LayerSite) throws(ConfigError) -> Layer

    public init(_ name: String, keys: Set<String> = [],
                build: @escaping @Sendable (inout ModelBuilder, LayerSite) throws(ConfigError) -> Layer) {
        self.name = name; self.keys = keys; self.build = build
    }
}

/// Every layer kind, by name; programs may register more.
public enum LayerRegistry {
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var kinds: [String: LayerKind] = Dictionary(uniqueKeysWithValues: LayerRegistry.builtIn.map { ($0.name, $0) })
    }
    private static let box = Box()

    /// The entry for `kind:` value `name`.
    public static func kind(named name: String) -> LayerKind? {
        box.lock.lock(); defer { box.lock.unlock() }
        return box.kinds[name]
    }

    /// Every kind's name, sorted.
    public static var names: [String] {
        box.lock.lock(); defer { box.lock.unlock() }
        return box.kinds.keys.sorted()
    }

    /// Adds (or replaces) a kind.
    public static func register(_ kind: LayerKind) {
        box.lock.lock(); defer { box.lock.unlock() }
        box.kinds[kind.name] = kind
    }

    /// A kind with no settings and no parameters.
    private static func plain(_ name: String, _ make: @escaping @Sendable () -> Layer) -> LayerKind {
        LayerKind(name) { _, _ in make() }
    }

    private static func pool(_ name: String, max: Bool) -> LayerKind {
        LayerKind(name, keys: ["kernel", "stride", "padding"]) { _, site throws(ConfigError) in
            let s = site.spec, k = s.kernel ?? IntPair(2, 2), p = s.padding ?? IntPair(0, 0)
            let st = s.stride.map { ($0.h, $0.w) }
            return try site.shaped { () throws(ShapeError) -> Layer in
                max ? try MaxPool2D(kernel: (k.h, k.w), stride: st, padding: (p.h, p.w))
                    : try AvgPool2D(kernel: (k.h, k.w), stride: st, padding: (p.h, p.w))
            }
        }
    }

    private static func recurrent(_ name: String, cell: RecurrentCell, keys: Set<String>) -> LayerKind {
        LayerKind(name, keys: keys) { b, site throws(ConfigError) in
            let s = site.spec, shape = site.shape
            let features: Int
            if shape.count == 3 { features = shape[2] } else if shape.count == 4 && shape[1] == 1 { features = shape[3] } else {
                throw site.error("\(name) needs input [N, T, F] (or [N, 1, T, F], an image read row by row), gets \(describe(shape))")
            }
            let hidden = try site.required(s.out, "out")
            guard hidden > 0 else { throw site.error("must be positive", key: "out") }
            let stacked = s.numLayers ?? 1
            guard stacked > 0 else { throw site.error("must be at least 1", key: "num_layers") }
            try site.checkParameters(4, hidden, hidden + max(features, hidden) + 2, stacked, (s.bidirectional ?? false) ? 2 : 1)
            return Recurrent(cell: cell, inputSize: features, hidden: hidden, layers: stacked,
                             bidirectional: s.bidirectional ?? false, peephole: s.peephole ?? false,
                             returnSequences: s.returnSequences ?? false, rng: &b.random)
        }
    }

    static let builtIn: [LayerKind] = [
        LayerKind("conv2d", keys: ["out", "kernel", "stride", "padding", "groups", "bias", "init"]) { b, site throws(ConfigError) in
            guard site.shape.count == 4 else { throw site.error("conv2d needs input [N, C, H, W], gets \(describe(site.shape))") }
            let s = site.spec
            let out = try site.required(s.out, "out"), k = try site.required(s.kernel, "kernel")
            let st = s.stride ?? IntPair(1, 1), p = s.padding ?? IntPair(0, 0)
            let ini = try site.initializer() ?? .he
            guard out > 0, k.h > 0, k.w > 0, st.h > 0, st.w > 0, p.h >= 0, p.w >= 0, (s.groups ?? 1) > 0 else {
                throw site.error("out, kernel, stride and groups must be positive and padding not negative")
            }
            try site.checkParameters(out, site.channels / max(s.groups ?? 1, 1), k.h, k.w)
            var rng = b.random
            defer { b.random = rng }
            return try site.shaped { () throws(ShapeError) in
                try Conv2D(inChannels: site.channels, outChannels: out, kernel: (k.h, k.w), stride: (st.h, st.w),
                           padding: (p.h, p.w), groups: s.groups ?? 1, bias: s.bias ?? true, initializer: ini, rng: &rng)
            }
        },
        LayerKind("conv_transpose2d", keys: ["out", "kernel", "stride", "padding", "output_padding", "bias", "init"]) {
            b, site throws(ConfigError) in
            guard site.shape.count == 4 else {
                throw site.error("conv_transpose2d needs input [N, C, H, W], gets \(describe(site.shape))")
            }
            let s = site.spec
            let out = try site.required(s.out, "out"), k = try site.required(s.kernel, "kernel")
            let st = s.stride ?? IntPair(1, 1), p = s.padding ?? IntPair(0, 0), op = s.outputPadding ?? IntPair(0, 0)
            guard out > 0 else { throw site.error("must be positive", key: "out") }
            try site.checkParameters(site.channels, out, k.h, k.w)
            let ini = try site.initializer() ?? .heUniform
            var rng = b.random
            defer { b.random = rng }
            return try site.shaped { () throws(ShapeError) in
                try ConvTranspose2D(inChannels: site.channels, outChannels: out, kernel: (k.h, k.w), stride: (st.h, st.w),
                                    padding: (p.h, p.w), outputPadding: (op.h, op.w), bias: s.bias ?? true,
                                    initializer: ini, rng: &rng)
            }
        },
        LayerKind("linear", keys: ["out", "bias", "init"]) { b, site throws(ConfigError) in
            let shape = site.shape
            guard shape.count == 2 || shape.count == 3 else {
                throw site.error("linear needs input [N, features] or [N, T, features], gets \(describe(shape)); put a flatten before it")
            }
            // In a language model a linear layer without `out` projects to the vocabulary.
            let out = try site.required(site.spec.out ?? b.vocabulary, "out")
            guard out > 0 else { throw site.error("must be positive", key: "out") }
            try site.checkParameters(out, shape[shape.count - 1])
            return Linear(inputs: shape[shape.count - 1], outputs: out, bias: site.spec.bias ?? true,
                          initializer: try site.initializer() ?? .lecun, rng: &b.random)
        },
        plain("relu") { ReLU() },
        plain("tanh") { Tanh() },
        plain("sigmoid") { Sigmoid() },
        plain("flatten") { Flatten() },
        LayerKind("reshape", keys: ["shape"]) { _, site throws(ConfigError) in
            Reshape(shape: try site.required(site.spec.shape, "shape"))
        },
        LayerKind("upsample", keys: ["factor"]) { _, site throws(ConfigError) in
            let f = site.spec.factor ?? 2
            guard f >= 1 && f <= 64 else { throw site.error("must be 1 to 64, got \(f)", key: "factor") }
            return Upsample(factor: f)
        },
        plain("global_avgpool") { GlobalAvgPool() },
        LayerKind("leaky_relu", keys: ["slope"]) { _, site in LeakyReLU(slope: site.spec.slope ?? 0.01) },
        LayerKind("prelu", keys: ["per_channel"]) { _, site in
            PReLU(numParameters: (site.spec.perChannel ?? false) ? site.channels : 1)
        },
        LayerKind("dropout", keys: ["p"]) { b, site throws(ConfigError) in
            let p = site.spec.p ?? 0.5
            guard p >= 0 && p < 1 else { throw site.error("dropout probability \(p) must lie in [0, 1)", key: "p") }
            return b.dropout(p: p)
        },
        pool("maxpool", max: true),
        pool("avgpool", max: false),
        LayerKind("batchnorm", keys: ["momentum", "eps"]) { _, site throws(ConfigError) in
            guard site.shape.count >= 2 else { throw site.error("batchnorm needs input [N, C, ...], gets \(describe(site.shape))") }
            try site.check(site.spec.momentum ?? 0.1, "momentum", { $0 >= 0 && $0 <= 1 }, "in [0, 1] (PyTorch's momentum)")
            try site.check(site.spec.eps ?? 1e-5, "eps", { $0 > 0 }, "positive")
            return BatchNorm(features: site.channels, eps: site.spec.eps ?? 1e-5, momentum: site.spec.momentum ?? 0.1)
        },
        LayerKind("lrn", keys: ["size", "alpha", "beta", "k"]) { _, site throws(ConfigError) in
            guard site.shape.count >= 3 else { throw site.error("lrn needs input [N, C, ...], gets \(describe(site.shape))") }
            let s = site.spec
            guard (s.size ?? 5) >= 1 else { throw site.error("must be at least 1, got \(s.size ?? 5)", key: "size") }
            try site.check(s.alpha ?? 1e-4, "alpha", { $0 >= 0 }, "non-negative")
            try site.check(s.beta ?? 0.75, "beta", { $0 >= 0 }, "non-negative")
            try site.check(s.k ?? 1, "k", { $0 > 0 }, "positive")
            return LocalResponseNorm(size: s.size ?? 5, alpha: s.alpha ?? 1e-4, beta: s.beta ?? 0.75, k: s.k ?? 1)
        },
        LayerKind("sequential", keys: ["layers"]) { b, site throws(ConfigError) in
            var shape = site.shape
            return try b.children(try site.required(site.spec.layers, "layers"), key: site.key + ".layers", shape: &shape)
        },
        LayerKind("residual", keys: ["layers", "shortcut"]) { b, site throws(ConfigError) in
            var bodyShape = site.shape
            let body = try b.children(try site.required(site.spec.layers, "layers"), key: site.key + ".layers", shape: &bodyShape)
            var shortcut: Layer?
            if let sc = site.spec.shortcut {
                var scShape = site.shape
                shortcut = try b.children(sc, key: site.key + ".shortcut", shape: &scShape)
            }
            return Residual(body: body, shortcut: shortcut)
        },
        LayerKind("concat", keys: ["branches"]) { b, site throws(ConfigError) in
            let branches = try site.required(site.spec.branches, "branches")
            guard !branches.isEmpty else { throw site.error("needs at least one branch", key: "branches") }
            let names = ModelBuilder.names(of: branches)
            if let twice = names.enumerated().first(where: { names.prefix($0.offset).contains($0.element) }) {
                throw site.error("two branches are named '\(twice.element)'", key: "branches.\(twice.offset).name")
            }
            var built: [(String, Layer)] = []
            for (i, branch) in branches.enumerated() {
                built.append((names[i], try b.layer(branch, key: "\(site.key).branches.\(i)", shape: site.shape)))
            }
            return Concat(built)
        },
        LayerKind("auxiliary", keys: ["layers", "weight"]) { b, site throws(ConfigError) in
            let weight = site.spec.weight ?? 0.3
            guard weight >= 0 && weight.isFinite else { throw site.error("must be a non-negative number, got \(weight)", key: "weight") }
            var headShape = site.shape
            let head = try b.children(try site.required(site.spec.layers, "layers"), key: site.key + ".layers", shape: &headShape)
            let aux = Auxiliary(head: head, loss: b.loss.makeLoss(), weight: weight)
            b.register(aux)
            return aux
        },
        LayerKind("embedding", keys: ["out"]) { b, site throws(ConfigError) in
            guard site.shape.count == 2 else {
                throw site.error("embedding needs input [N, T] of token ids, gets \(describe(site.shape))")
            }
            guard let vocabulary = b.vocabulary else { throw site.error("an embedding needs a vocabulary: use it with a text data set") }
            let width = try site.required(site.spec.out, "out")
            guard width > 0 else { throw site.error("must be positive", key: "out") }
            try site.checkParameters(vocabulary, width)
            return Embedding(count: vocabulary, width: width, rng: &b.random)
        },
        recurrent("rnn", cell: .rnn, keys: ["out", "num_layers", "bidirectional", "return_sequences"]),
        recurrent("lstm", cell: .lstm, keys: ["out", "num_layers", "bidirectional", "peephole", "return_sequences"]),
    ]
}
