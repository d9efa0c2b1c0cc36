// The `autoencoder:` section of a config (task `autoencoder`).

/// How an autoencoder learns: the code layer, the reconstruction loss, the corruption of
/// its input (denoising) and the sparsity of its code.
public struct AutoencoderConfig: Codable, Equatable, Sendable {
    /// The name of the top-level layer whose output is the code h (`code`).
    public var code: String
    /// `mse` (squared error per pixel) or `bce` (binary cross-entropy on logits: the
    /// inputs must lie in [0, 1], `data.normalize: scale` or `min_max`).
    public var loss: String
    /// Corruption of training inputs (denoising autoencoder); nil: none.
    public var noise: NoiseConfig?
    /// A KL(ρ‖ρ̂) penalty on the code layer's mean activations (sparse autoencoder); nil: none.
    public var sparsity: SparsityConfig?
    /// λ‖J‖²_F on the code layer's Jacobian (contractive autoencoder); nil: none.
    public var contractive: ContractiveConfig?
    /// The top-level layer whose output the network reconstructs instead of its input
    /// (greedy layer-wise pretraining: the next autoencoder learns the code of a frozen
    /// one); that layer and every one before it must be frozen. nil: the input.
    public var target: String?

    public init(code: String = "code", loss: String = "mse") { self.code = code; self.loss = loss }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = try c.decodeIfPresent(String.self, forKey: .code) ?? code
        loss = try c.decodeIfPresent(String.self, forKey: .loss) ?? loss
        noise = try c.decodeIfPresent(NoiseConfig.self, forKey: .noise)
        sparsity = try c.decodeIfPresent(SparsityConfig.self, forKey: .sparsity)
        contractive = try c.decodeIfPresent(ContractiveConfig.self, forKey: .contractive)
        target = try c.decodeIfPresent(String.self, forKey: .target)
    }
}

/// The contractive penalty's weight λ (Rifai et al. 2011); the code layer must be a
/// sigmoid over a linear layer.
public struct ContractiveConfig: Codable, Equatable, Sendable {
    public var lambda: Float

    public init(lambda: Float = 0.1) { self.lambda = lambda }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lambda = try c.decodeIfPresent(Float.self, forKey: .lambda) ?? lambda
    }
}

/// Input corruption: `mask` sets each value to 0 (after normalisation) with probability
/// `rate`; `gaussian` adds N(0, std²). Drawn per sample from (seed, epoch, sample index).
public struct NoiseConfig: Codable, Equatable, Sendable {
    public var kind: String
    public var rate: Float
    public var std: Float

    public init(kind: String = "mask", rate: Float = 0.3, std: Float = 0.5) { self.kind = kind; self.rate = rate; self.std = std }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? kind
        rate = try c.decodeIfPresent(Float.self, forKey: .rate) ?? rate
        std = try c.decodeIfPresent(Float.self, forKey: .std) ?? std
    }
}

/// Sparsity target ρ for the mean activation of each code unit, and the penalty's weight β.
public struct SparsityConfig: Codable, Equatable, Sendable {
    public var rho: Float
    public var beta: Float

    public init(rho: Float = 0.05, beta: Float = 1) { self.rho = rho; self.beta = beta }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rho = try c.decodeIfPresent(Float.self, forKey: .rho) ?? rho
        beta = try c.decodeIfPresent(Float.self, forKey: .beta) ?? beta
    }
}
