// The coordinator's sections of an experiment config: `ensemble:` (phalanx ensemble)
// and `sweep:` (phalanx sweep). `phalanx train` ignores both; the members and trials
// they start are plain experiments without them.

/// `ensemble:` — K members that differ by seed, architecture or data.
public struct EnsembleConfig: Codable, Equatable, Sendable {
    /// Number of members.
    public var members: Int
    /// `seeds` (each member its own seed), `bagging` (each a bootstrap sample of the
    /// training split) or `adaboost` (SAMME: members in sequence on re-weighted data).
    public var method: String
    /// Bootstrap / resample size as a fraction of the training split.
    public var sampleFraction: Double
    /// Rank groups under mpirun (0: as many as useful — one per rank, at most one per
    /// member); each group trains one member at a time, data-parallel inside the group.
    public var groups: Int
    /// How `ensemble` combines the members at the end: `soft` (mean of probabilities)
    /// or `hard` (majority). AdaBoost weighs each member by its α either way.
    public var vote: String
    /// Optional model sections: member i uses `models[i % count]` instead of `model`.
    public var models: [ModelConfig]

    enum CodingKeys: String, CodingKey {
        case members, method, groups, vote, models, sampleFraction = "sample_fraction"
    }

    public init() {
        members = 5; method = "seeds"; sampleFraction = 1; groups = 0; vote = "soft"; models = []
    }

    public init(from decoder: Decoder) throws {
        let d = EnsembleConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        members = try c.decodeIfPresent(Int.self, forKey: .members) ?? d.members
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? d.method
        sampleFraction = try c.decodeIfPresent(Double.self, forKey: .sampleFraction) ?? d.sampleFraction
        groups = try c.decodeIfPresent(Int.self, forKey: .groups) ?? d.groups
        vote = try c.decodeIfPresent(String.self, forKey: .vote) ?? d.vote
        models = try c.decodeIfPresent([ModelConfig].self, forKey: .models) ?? d.models
    }
}

/// `sweep:` — trials over config values, each a normal run.
public struct SweepConfig: Codable, Equatable, Sendable {
    /// `grid` (every combination) or `random` (`trials` independent draws).
    public var method: String
    /// Number of trials of a random search.
    public var trials: Int
    /// What ranks the trials: any metric the task reports (`validation_accuracy`,
    /// `test_loss`, `validation_bits_per_char`), best first by its direction; nil: the
    /// task's monitored metric.
    public var metric: String?
    /// Rank groups under mpirun (0: one per rank, at most one per trial).
    public var groups: Int
    /// Dotted config keys (`train.optimizer.lr`) and how to choose their values.
    public var parameters: [String: SweepParameter]

    enum CodingKeys: String, CodingKey { case method, trials, metric, groups, parameters }

    public init() {
        method = "grid"; trials = 8; metric = nil; groups = 0; parameters = [:]
    }

    public init(from decoder: Decoder) throws {
        let d = SweepConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? d.method
        trials = try c.decodeIfPresent(Int.self, forKey: .trials) ?? d.trials
        metric = try c.decodeIfPresent(String.self, forKey: .metric)
        groups = try c.decodeIfPresent(Int.self, forKey: .groups) ?? d.groups
        parameters = try c.decode([String: SweepParameter].self, forKey: .parameters)
    }
}

/// One swept value: a list of `values`, or a range — `uniform: [a, b]` or
/// `log_uniform: [a, b]` — drawn at random, or cut into `steps` points for a grid.
public struct SweepParameter: Codable, Equatable, Sendable {
    /// Explicit choices, written as YAML scalars (`0.1`, `64`, `adam`, `true`).
    public var values: [String]?
    public var uniform: [Double]?
    public var logUniform: [Double]?
    /// Grid points over a range (both ends included).
    public var steps: Int?
    /// Round drawn values to integers (batch sizes, widths).
    public var integer: Bool?

    enum CodingKeys: String, CodingKey { case values, uniform, steps, integer, logUniform = "log_uniform" }

    public init(values: [String]? = nil, uniform: [Double]? = nil, logUniform: [Double]? = nil,
                steps: Int? = nil, integer: Bool? = nil) {
        self.values = values; self.uniform = uniform; self.logUniform = logUniform
        self.steps = steps; self.integer = integer
    }
}
