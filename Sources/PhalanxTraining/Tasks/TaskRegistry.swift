// The task registry: a config's `task` (or the task its `data.dataset` implies) names
// one entry, and train, evaluate, generate, checkpoint loading and the coordinator ask
// the entry instead of comparing strings.
import Foundation
import PhalanxDistributed
import Yams

/// What `evaluate` asks of a checkpoint.
public struct EvaluationRequest: Sendable {
    public var split: String
    public var batchSize: Int
    public init(split: String = "test", batchSize: Int = 500) { self.split = split; self.batchSize = batchSize }
}

/// A checkpoint's figures as `phalanx evaluate` prints them.
public struct EvaluationReport: Sendable {
    /// Figures by name (`accuracy`, `loss`, `samples`, `step`), for `--json`.
    public var values: [String: Double]
    /// Extra text fields (`split`).
    public var labels: [String: String]
    /// The line printed without `--json`.
    public var line: String
}

/// What `generate` asks of a checkpoint.
public struct GenerationRequest: Sendable {
    public var prompt: String
    public var length: Int
    public var temperature: Float
    public var topK: Int?
    public var seed: UInt64
    public var stop: Character?
    /// Image generators (GAN): how many images, the PNG grid to write, and a prefix for
    /// NumPy arrays of the latents and images (`PREFIX-latents.npy`, `PREFIX-images.npy`).
    public var count: Int
    public var output: String?
    public var arrays: String?
    public init(prompt: String, length: Int = 200, temperature: Float = 1, topK: Int? = nil, seed: UInt64 = 1,
                stop: Character? = nil, count: Int = 64, output: String? = nil, arrays: String? = nil) {
        self.prompt = prompt; self.length = length; self.temperature = temperature; self.topK = topK
        self.seed = seed; self.stop = stop; self.count = count; self.output = output; self.arrays = arrays
    }
}

/// One kind of learning: its name, the config keys it reads, its metrics, and how to
/// train it and use its checkpoints.
public struct TaskKind: Sendable {
    /// The registry name (`classification`), the value of a config's `task`.
    public let name: String
    /// `data.dataset` values that imply this task when `task` is not given.
    public let datasets: [String]
    /// The keys of the `data` and `model` sections the task reads; others are config errors.
    public let dataKeys: Set<String>
    public let modelKeys: Set<String>
    /// Top-level config sections only this task reads (`autoencoder`).
    public let sections: Set<String>
    /// The metrics of a split, and the validation metric watched by default.
    public let metrics: [MetricSpec]
    public let defaultMonitor: String
    /// Whether members may train on a resampled training split and be combined by vote
    /// (`phalanx ensemble`, `phalanx aggregate`).
    public let ensembles: Bool
    let train: @Sendable (LoadedConfig, TrainOptions, Communicator) throws -> RunSummary
    let evaluate: (@Sendable (URL, EvaluationRequest) throws -> EvaluationReport)?
    let generate: (@Sendable (URL, GenerationRequest) throws -> String)?

    /// An entry for task type `T`; `evaluate` and `generate` are what `phalanx evaluate`
    /// and `phalanx generate` do with one of its checkpoints (nil: not offered).
    public init<T: TrainingTask>(_ type: T.Type, name: String, datasets: [String], dataKeys: Set<String>,
                                 modelKeys: Set<String> = ["input", "layers"], sections: Set<String> = [],
                                 ensembles: Bool = false,
                                 evaluate: (@Sendable (URL, EvaluationRequest) throws -> EvaluationReport)? = nil,
                                 generate: (@Sendable (URL, GenerationRequest) throws -> String)? = nil) {
        self.name = name; self.datasets = datasets; self.dataKeys = dataKeys.union(["dataset"])
        self.modelKeys = modelKeys; self.sections = sections; self.ensembles = ensembles
        metrics = T.metrics; defaultMonitor = T.defaultMonitor
        self.evaluate = evaluate; self.generate = generate
        train = { loaded, options, comm in
            try TrainingLoop<T>(loaded, taskName: name, options: options, communicator: comm).run()
        }
    }

    /// Every metric name a run of this task can report (`validation_accuracy`), with its direction.
    public var metricNames: [(name: String, direction: MetricDirection)] {
        Split.allCases.flatMap { s in metrics.map { ("\(s.rawValue)_\($0.name)", $0.direction) } }
    }

    /// Refuses keys of the config's `data` and `model` sections that this task does not
    /// read, naming the key and its line (a `text:` in an image config).
    public func checkSections(_ loaded: LoadedConfig) throws(ConfigError) {
        for other in TaskRegistry.all where other.name != name {
            for s in other.sections.subtracting(sections) {
                if let node = ConfigLoader.node(at: [s], in: loaded.root) {
                    throw ConfigError(file: loaded.file, line: node.mark?.line, key: s,
                                      "a section of the \(other.name) task, not of \(name) (set task: \(other.name))")
                }
            }
        }
        try TaskRegistry.checkSections(loaded, allowed: { $0 == "data" ? dataKeys : modelKeys }) { _, section in
            "not a setting of the \(name) task; its \(section) keys: "
                + (section == "data" ? dataKeys : modelKeys).sorted().joined(separator: ", ")
        }
    }

    /// `phalanx evaluate` on one of this task's checkpoints.
    public func evaluate(checkpoint: URL, _ request: EvaluationRequest = EvaluationRequest()) throws -> EvaluationReport {
        guard let evaluate else { throw ValidationFailure("the \(name) task has no evaluation of a checkpoint") }
        let report = try evaluate(checkpoint, request)
        if let bad = report.values.sorted(by: { $0.key < $1.key }).first(where: { !$0.value.isFinite }) {
            throw TrainingError.nonFiniteMetric(name: bad.key, of: checkpoint.path)
        }
        return report
    }

    /// `phalanx generate` with one of this task's checkpoints.
    public func generate(checkpoint: URL, _ request: GenerationRequest) throws -> String {
        guard let generate else {
            throw ValidationFailure("\(checkpoint.path) is a \(name) checkpoint; generate takes a language model, an encoder–decoder or a GAN")
        }
        return try generate(checkpoint, request)
    }

    /// Trains the experiment `loaded` describes with this task.
    public func train(_ loaded: LoadedConfig, options: TrainOptions = TrainOptions(),
                      communicator: Communicator = LocalCommunicator()) throws -> RunSummary {
        try train(loaded, options, communicator)
    }
}

/// The tasks Phalanx knows; tests and programs may register more.
public enum TaskRegistry {
    private final class Box: @unchecked Sendable {
        let lock = NSLock()
        var kinds: [TaskKind] = [ClassificationTask.kind, LanguageModelTask.kind, Seq2SeqTask.kind, AutoencoderTask.kind,
                                 GANTask.kind]
    }
    private static let box = Box()

    /// Every registered task, the built-in ones first.
    public static var all: [TaskKind] {
        box.lock.lock(); defer { box.lock.unlock() }
        return box.kinds
    }

    /// Adds (or replaces, by name) a task.
    public static func register(_ kind: TaskKind) {
        box.lock.lock(); defer { box.lock.unlock() }
        box.kinds.removeAll { $0.name == kind.name }
        box.kinds.append(kind)
    }

    /// The entry named `name`.
    public static func kind(named name: String) -> TaskKind? { all.first { $0.name == name } }

    /// The task of a config: its `task`, else the one its `data.dataset` implies,
    /// else classification (Fashion-MNIST, IDX).
    public static func kind(of config: ExperimentConfig, fail: (String, String) -> ConfigError) throws(ConfigError) -> TaskKind {
        let kinds = all
        if let name = config.task {
            guard let k = kinds.first(where: { $0.name == name }) else {
                throw fail("task", "unknown task '\(name)'; known: \(kinds.map(\.name).joined(separator: ", "))")
            }
            // A data set written for another task contradicts `task` (the default one does not).
            let implied = kinds.first { $0.datasets.contains(config.data.dataset) }
            if let implied, implied.name != k.name, !k.datasets.contains(config.data.dataset),
               config.data.dataset != DataConfig().dataset {
                throw fail("data.dataset", "'\(config.data.dataset)' is data of the \(implied.name) task, not of \(name)")
            }
            return k
        }
        return kinds.first { $0.datasets.contains(config.data.dataset) } ?? kinds[0]
    }

    /// The task of a loaded config, whose `data` and `model` sections must hold only
    /// keys that task reads (errors name the key and line).
    public static func kind(of loaded: LoadedConfig) throws(ConfigError) -> TaskKind {
        let kind = try kind(of: loaded.config, fail: loaded.error)
        try kind.checkSections(loaded)
        return kind
    }

    /// The task of a checkpoint, from the config its trainer.json keeps.
    public static func kind(ofCheckpoint directory: URL) throws -> TaskKind {
        let probe: TrainerFile<ConfigProbe> = try readTrainerFile(in: directory)
        let file = directory.appendingPathComponent(CheckpointLayout.trainer).path
        guard let config = probe.trainer.config else {
            throw CheckpointError(file: file, .invalidJSON("no 'config' in the trainer state"))
        }
        return try kind(of: config) { ConfigError(file: file, key: "config." + $0, $1) }
    }

    /// Refuses keys of `data` and `model` that no registered task reads (`unknown key`),
    /// when a config is loaded; which task's keys apply is checked once the task is known.
    static func checkKnownKeys(_ loaded: LoadedConfig) throws(ConfigError) {
        let kinds = all
        let data = kinds.reduce(into: Set<String>()) { $0.formUnion($1.dataKeys) }
        let model = kinds.reduce(into: Set<String>()) { $0.formUnion($1.modelKeys) }
        try checkSections(loaded, allowed: { $0 == "data" ? data : model }) { _, _ in "unknown key" }
    }

    static func checkSections(_ loaded: LoadedConfig, allowed: (String) -> Set<String>,
                                      message: (String, String) -> String) throws(ConfigError) {
        for section in ["data", "model"] {
            guard case .mapping(let m)? = ConfigLoader.node(at: [section], in: loaded.root) else { continue }
            for (k, _) in m {
                let key = k.string ?? "\(k)"
                if !allowed(section).contains(key) {
                    throw ConfigError(file: loaded.file, line: k.mark?.line, key: "\(section).\(key)", message(key, section))
                }
            }
        }
    }

    private struct ConfigProbe: Decodable {
        var config: ExperimentConfig?
    }
}
