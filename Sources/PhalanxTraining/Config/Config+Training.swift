// Training, optimizer, schedule and checkpoint sections of an experiment config.

/// How to train: epochs, global batch, loss, optimizer, penalties, schedule.
public struct TrainConfig: Codable, Equatable, Sendable {
    public var epochs: Int
    /// The global batch: with N ranks each takes batch_size / N samples.
    public var batchSize: Int
    /// Drop the last incomplete global batch of each epoch.
    public var dropLast: Bool
    /// cross_entropy (softmax + log-likelihood), binary_cross_entropy or mse.
    public var loss: String
    public var optimizer: OptimizerConfig
    /// L1 penalty λ (adds λ·sign θ to weight gradients).
    public var l1: Float
    /// L2 penalty λ (adds 2λθ to weight gradients; PyTorch's weight_decay = 2λ).
    public var l2: Float
    /// Clip gradients to this global norm (0: off).
    public var clipNorm: Float
    public var schedule: ScheduleConfig
    public var earlyStopping: EarlyStoppingConfig?
    /// Kernel threads in this process (0: all cores).
    public var threads: Int
    /// Print a progress line every this many steps when not on a terminal.
    public var logEvery: Int

    enum CodingKeys: String, CodingKey {
        case epochs, loss, optimizer, l1, l2, schedule, threads
        case batchSize = "batch_size", dropLast = "drop_last", clipNorm = "clip_norm"
        case earlyStopping = "early_stopping", logEvery = "log_every"
    }

    public init() {
        epochs = 10; batchSize = 128; dropLast = true; loss = "cross_entropy"
        optimizer = OptimizerConfig(); l1 = 0; l2 = 0; clipNorm = 0
        schedule = ScheduleConfig(); earlyStopping = nil; threads = 0; logEvery = 100
    }

    public init(from decoder: Decoder) throws {
        let d = TrainConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        dropLast = try c.decodeIfPresent(Bool.self, forKey: .dropLast) ?? d.dropLast
        loss = try c.decodeIfPresent(String.self, forKey: .loss) ?? d.loss
        optimizer = try c.decodeIfPresent(OptimizerConfig.self, forKey: .optimizer) ?? d.optimizer
        l1 = try c.decodeIfPresent(Float.self, forKey: .l1) ?? d.l1
        l2 = try c.decodeIfPresent(Float.self, forKey: .l2) ?? d.l2
        clipNorm = try c.decodeIfPresent(Float.self, forKey: .clipNorm) ?? d.clipNorm
        schedule = try c.decodeIfPresent(ScheduleConfig.self, forKey: .schedule) ?? d.schedule
        earlyStopping = try c.decodeIfPresent(EarlyStoppingConfig.self, forKey: .earlyStopping)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? d.threads
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? d.logEvery
    }
}

/// Which optimizer and its hyper-parameters.
public struct OptimizerConfig: Codable, Equatable, Sendable {
    /// sgd, adagrad, rmsprop, adam; lbfgs, cg, newton (which evaluate each batch several times).
    public var kind: String
    /// Base learning rate ρ; for lbfgs, cg and newton the first trial step of each line
    /// search (default 1 for them, as PyTorch's LBFGS; 0.01 for the others).
    public var lr: Float
    /// SGD momentum α (0: plain SGD).
    public var momentum: Float
    /// Nesterov momentum (SGD).
    public var nesterov: Bool
    /// Adam β₁, β₂; RMSProp decay uses `alpha`.
    public var beta1: Float
    public var beta2: Float
    public var alpha: Float
    public var eps: Float
    /// lbfgs, cg, newton: iterations and objective evaluations per step (PyTorch's LBFGS
    /// `max_iter`, `max_eval`; max_eval defaults to 1.25·max_iter, for newton to what a
    /// full CG solve and a line search need), the gradient and change tolerances.
    public var maxIter: Int
    public var maxEval: Int?
    public var toleranceGrad: Double
    public var toleranceChange: Double
    /// lbfgs: the curvature pairs kept; `line_search` `strong_wolfe` or `none` (fixed steps of lr).
    public var historySize: Int
    public var lineSearch: String
    /// cg: restart with steepest descent every this many iterations (0: when PR+ says so).
    public var restart: Int
    /// newton: Hessian–vector products per Newton system, the relative CG residual that
    /// ends it (nil: the forcing sequence min(0.5, √‖g‖)), and the damping λ of (H + λI).
    public var cgMaxIter: Int
    public var cgTolerance: Double?
    public var damping: Double

    /// The optimizers that evaluate the objective several times a step.
    public static let closureKinds: Set = ["lbfgs", "cg", "newton"]

    enum CodingKeys: String, CodingKey {
        case kind, lr, momentum, nesterov, beta1, beta2, alpha, eps
        case maxIter = "max_iter", maxEval = "max_eval", toleranceGrad = "tolerance_grad"
        case toleranceChange = "tolerance_change", historySize = "history_size", lineSearch = "line_search"
        case restart, cgMaxIter = "cg_max_iter", cgTolerance = "cg_tolerance", damping
    }

    public init(kind: String = "sgd", lr: Float? = nil) {
        self.kind = kind; self.lr = lr ?? (Self.closureKinds.contains(kind) ? 1 : 0.01)
        momentum = 0; nesterov = false
        beta1 = 0.9; beta2 = 0.999; alpha = 0.99; eps = 1e-8
        maxIter = 20; maxEval = nil; toleranceGrad = 1e-7; toleranceChange = 1e-9
        historySize = 100; lineSearch = "strong_wolfe"; restart = 0
        cgMaxIter = 50; cgTolerance = nil; damping = 0
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(kind: try c.decodeIfPresent(String.self, forKey: .kind) ?? "sgd",
                  lr: try c.decodeIfPresent(Float.self, forKey: .lr))
        momentum = try c.decodeIfPresent(Float.self, forKey: .momentum) ?? momentum
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? nesterov
        beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? beta1
        beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? beta2
        alpha = try c.decodeIfPresent(Float.self, forKey: .alpha) ?? alpha
        eps = try c.decodeIfPresent(Float.self, forKey: .eps) ?? eps
        maxIter = try c.decodeIfPresent(Int.self, forKey: .maxIter) ?? maxIter
        maxEval = try c.decodeIfPresent(Int.self, forKey: .maxEval) ?? maxEval
        toleranceGrad = try c.decodeIfPresent(Double.self, forKey: .toleranceGrad) ?? toleranceGrad
        toleranceChange = try c.decodeIfPresent(Double.self, forKey: .toleranceChange) ?? toleranceChange
        historySize = try c.decodeIfPresent(Int.self, forKey: .historySize) ?? historySize
        lineSearch = try c.decodeIfPresent(String.self, forKey: .lineSearch) ?? lineSearch
        restart = try c.decodeIfPresent(Int.self, forKey: .restart) ?? restart
        cgMaxIter = try c.decodeIfPresent(Int.self, forKey: .cgMaxIter) ?? cgMaxIter
        cgTolerance = try c.decodeIfPresent(Double.self, forKey: .cgTolerance) ?? cgTolerance
        damping = try c.decodeIfPresent(Double.self, forKey: .damping) ?? damping
    }
}

/// Learning-rate schedule over optimizer steps.
public struct ScheduleConfig: Codable, Equatable, Sendable {
    /// constant, step or cosine.
    public var kind: String
    /// Linear warm-up from 0 over this many steps.
    public var warmupSteps: Int
    /// step: multiply by `gamma` every `stepEpochs` epochs.
    public var stepEpochs: Int
    public var gamma: Float
    /// cosine: the rate reached at the end of training.
    public var minLR: Float

    enum CodingKeys: String, CodingKey {
        case kind, gamma
        case warmupSteps = "warmup_steps", stepEpochs = "step_epochs", minLR = "min_lr"
    }

    public init() { kind = "constant"; warmupSteps = 0; stepEpochs = 1; gamma = 0.1; minLR = 0 }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? kind
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? warmupSteps
        stepEpochs = try c.decodeIfPresent(Int.self, forKey: .stepEpochs) ?? stepEpochs
        gamma = try c.decodeIfPresent(Float.self, forKey: .gamma) ?? gamma
        minLR = try c.decodeIfPresent(Float.self, forKey: .minLR) ?? minLR
    }
}

/// Stop when the validation metric has not improved for `patience` epochs, and
/// restore the best weights.
public struct EarlyStoppingConfig: Codable, Equatable, Sendable {
    public var patience: Int
    /// Minimum improvement that counts.
    public var minDelta: Float

    enum CodingKeys: String, CodingKey { case patience, minDelta = "min_delta" }

    public init(patience: Int = 3, minDelta: Float = 0) { self.patience = patience; self.minDelta = minDelta }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        patience = try c.decodeIfPresent(Int.self, forKey: .patience) ?? patience
        minDelta = try c.decodeIfPresent(Float.self, forKey: .minDelta) ?? minDelta
    }
}

/// Where and how often checkpoints are written.
public struct CheckpointConfig: Codable, Equatable, Sendable {
    /// Runs go to `<directory>/<name>/`.
    public var directory: String
    /// Write a checkpoint every this many epochs (and always at the end).
    public var everyEpochs: Int
    /// Keep this many newest step checkpoints (plus `best`).
    public var keep: Int
    /// The validation metric `best` and early stopping watch (`validation_accuracy`,
    /// `validation_loss`, `validation_bits_per_char` …); nil: the task's own choice.
    /// Whether higher or lower is better comes with the metric.
    public var monitor: String?

    enum CodingKeys: String, CodingKey { case directory, keep, monitor, everyEpochs = "every_epochs" }

    public init() { directory = "runs"; everyEpochs = 1; keep = 3 }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? directory
        everyEpochs = try c.decodeIfPresent(Int.self, forKey: .everyEpochs) ?? everyEpochs
        keep = try c.decodeIfPresent(Int.self, forKey: .keep) ?? keep
        monitor = try c.decodeIfPresent(String.self, forKey: .monitor)
    }
}

/// What a run logs besides `metrics.jsonl` and `summary.json` (rank 0).
public struct LoggingConfig: Codable, Equatable, Sendable {
    /// Write `<run>/tb/events.out.tfevents.*` for TensorBoard: every metric as a scalar,
    /// sample grids as images.
    public var tensorboard: Bool
    /// Also put a histogram of every parameter and of its last gradient in the event
    /// file each epoch (`weights/<name>`, `gradients/<name>`).
    public var histograms: Bool

    enum CodingKeys: String, CodingKey { case tensorboard, histograms }

    public init() { (tensorboard, histograms) = (true, false) }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tensorboard = try c.decodeIfPresent(Bool.self, forKey: .tensorboard) ?? tensorboard
        histograms = try c.decodeIfPresent(Bool.self, forKey: .histograms) ?? histograms
    }
}
