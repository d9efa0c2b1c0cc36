// Builds a network from the model-config language, checking every layer's settings
// and shapes as it goes; a problem is a ConfigError naming the layer's key and line.
import Foundation
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
    /// Values each layer outputs per sample, by the layer's dotted key, in build order.
    public let activations: [(key: String, values: Int)]

    /// Refuses a training batch whose estimated memory exceeds this machine's: the
    /// parameters with their gradients and two optimizer slots, and every layer's output
    /// and its gradient for `samples` samples (this rank's part of the batch), with the
    /// figure and the layer that holds most.
    public func checkMemory(samples: Int, fail: (String, String) -> ConfigError,
                            available: UInt64 = ProcessInfo.processInfo.physicalMemory) throws(ConfigError) {
        let parameters = network.parameters.reduce(0) { $0 + $1.count }
        let perSample = activations.reduce(0) { $0 &+ $1.values }
        let (batchValues, o1) = perSample.multipliedReportingOverflow(by: max(samples, 1))
        let bytes = o1 ? Double.infinity : 4 * (4 * Double(parameters) + 2 * Double(batchValues))
        guard bytes > Double(available) * 0.8 else { return }
        let largest = activations.max { $0.values < $1.values }
        let gib = { (b: Double) in String(format: "%.1f GiB", b / Double(1 << 30)) }
        throw fail("train.batch_size", "a batch of \(samples) samples per rank needs about \(gib(bytes)) "
            + "(\(perSample) values per sample; most in \(largest.map { "\($0.key), \($0.values)" } ?? "-")), more than "
            + "the \(gib(Double(available))) of this machine: choose a smaller batch, or more ranks")
    }
}

/// Turns `model:` of a config into layers.
public struct ModelBuilder {
    let fail: (String, String) -> ConfigError
    private var rng: RNG
    private let seed: UInt64
    private var dropouts: [Dropout] = []
    private var auxiliaries: [Auxiliary] = []
    private var activations: [(key: String, values: Int)] = []
    private let lossKind: LossKind
    private let vocabularySize: Int?

    /// `fail(key, message)` makes the error for a dotted key (see `LoadedConfig.error`);
    /// `loss` is the loss auxiliary classifiers use (the training loss). `inputGradient`:
    /// whether backward returns the gradient with respect to the model's input (a GAN's
    /// discriminator hands it to the generator); otherwise the first layer skips it.
    public static func build(_ config: ModelConfig, seed: UInt64, loss: LossKind = .crossEntropy, vocabulary: Int? = nil,
                             inputGradient: Bool = false,
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
        switch inputGradient ? nil : network.children.first?.layer {
        case let conv as Conv2D: conv.needsInputGradient = false
        case let linear as Linear: linear.needsInputGradient = false
        default: break
        }
        return BuiltModel(network: network, outputShape: Array(shape.dropFirst()), dropouts: builder.dropouts,
                          auxiliaries: builder.auxiliaries, activations: builder.activations)
    }

    /// Most copies a `repeat:` may write out.
    public static let maxRepeat = 10_000
    /// Most values one layer may output per sample (2^28: 1 GiB of floats).
    public static let maxActivations = 1 << 28
    /// Most parameters one layer may hold (2^30: 4 GiB of floats).
    public static let maxParameters = 1 << 30

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
            guard n <= ModelBuilder.maxRepeat else {
                throw fail("\(key).\(i).repeat", "\(n) copies is more than the \(ModelBuilder.maxRepeat) a model may repeat a layer")
            }
            for c in 1...n {
                var copy = spec
                copy.repeat = nil
                if let name = spec.name { copy.name = "\(name)\(c)" }
                out.append((copy, i))
            }
        }
        return out
    }

    mutating func sequential(_ listed: [LayerSpec], key: String, shape: inout [Int]) throws(ConfigError) -> Sequential {
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
            let perSample = shape.dropFirst().reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? .max : $0 * $1 }
            activations.append((k, perSample))
            guard perSample <= ModelBuilder.maxActivations else {
                throw fail(k, "its output of \(describe(Array(shape.dropFirst()))) per sample (\(perSample) values, "
                    + "\(perSample / (1 << 28)) GiB) is more than a model can hold; check its padding, kernel and out")
            }
            children.append((name, layer))
        }
        return Sequential(children)
    }

    /// Builds one layer through its kind's registry entry, after checking that the spec
    /// sets only keys the kind takes.
    mutating func layer(_ s: LayerSpec, key: String, shape: [Int]) throws(ConfigError) -> Layer {
        guard let kind = LayerRegistry.kind(named: s.kind) else {
            throw fail(key + ".kind", "unknown layer kind '\(s.kind)'; known kinds: \(LayerRegistry.names.joined(separator: ", "))")
        }
        for extra in s.setKeys where !kind.keys.contains(extra) {
            throw fail(key + "." + extra, "does not apply to a \(s.kind) layer")
        }
        let layer = try kind.build(&self, LayerSite(spec: s, key: key, shape: shape, fail: fail))
        if s.frozen == true { for p in layer.parameters { p.requiresGrad = false } }
        return layer
    }

    // What layer kinds' build closures use.

    /// The initialisation stream (shared by the whole model, in build order).
    public var random: RNG {
        get { rng }
        set { rng = newValue }
    }
    /// The model seed (dropout streams derive from it).
    public var modelSeed: UInt64 { seed }
    /// The training loss (auxiliary classifiers use it).
    public var loss: LossKind { lossKind }
    /// The vocabulary of a text data set, when there is one.
    public var vocabulary: Int? { vocabularySize }

    /// A dropout layer with the next dropout stream; its state is saved with checkpoints.
    public mutating func dropout(p: Float) -> Dropout {
        let d = Dropout(p: p, seed: seed, stream: 1000 + UInt64(dropouts.count))
        dropouts.append(d)
        return d
    }

    /// Registers an auxiliary classifier, which the classification task gives each batch's target.
    public mutating func register(_ auxiliary: Auxiliary) { auxiliaries.append(auxiliary) }

    /// A Sequential of `specs` (a container's children) for input `shape`, which becomes its output shape.
    public mutating func children(_ specs: [LayerSpec], key: String, shape: inout [Int]) throws(ConfigError) -> Sequential {
        try sequential(specs, key: key, shape: &shape)
    }
}
