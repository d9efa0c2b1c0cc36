// The `gan:` section of a config (task `gan`). `model:` is the generator (input: the
// latent vector), `gan.discriminator` the discriminator's layers.

/// A generative adversarial network: the discriminator's layers and the training settings
/// the generator's `model:` section does not hold.
public struct GANConfig: Codable, Equatable, Sendable {
    /// The discriminator: images in, one logit per image out.
    public var discriminator: [LayerSpec]
    /// The discriminator's learning rate (default: `train.optimizer.lr`, as the generator's).
    public var discriminatorLR: Float?
    /// Latent vectors rendered each epoch into `samples/epoch-NNN.png` (fixed, from the seed).
    public var samples: Int
    /// A classification checkpoint (trained on the same images) whose features score the
    /// samples: Fréchet distance and label entropy each evaluation; nil: no score.
    public var classifier: String?
    /// The classifier's top-level layer whose output are the features (default: the input
    /// of its last layer, the penultimate features).
    public var featureLayer: String?

    enum CodingKeys: String, CodingKey {
        case discriminator, discriminatorLR = "discriminator_lr", samples, classifier, featureLayer = "feature_layer"
    }

    public init(discriminator: [LayerSpec] = []) { self.discriminator = discriminator; samples = 64 }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        discriminator = try c.decodeIfPresent([LayerSpec].self, forKey: .discriminator) ?? discriminator
        discriminatorLR = try c.decodeIfPresent(Float.self, forKey: .discriminatorLR)
        samples = try c.decodeIfPresent(Int.self, forKey: .samples) ?? samples
        classifier = try c.decodeIfPresent(String.self, forKey: .classifier)
        featureLayer = try c.decodeIfPresent(String.self, forKey: .featureLayer)
    }
}
