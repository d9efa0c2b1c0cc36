// Experiment configuration: the YAML a user writes, decoded into Codable types.
//
// Every key has a default except the model; unknown keys and wrong types are errors
// that name the key and its line (see ConfigLoader). `--set a.b=c` overrides any value.
import PhalanxCore

/// A whole experiment: data, model, training, checkpoints.
public struct ExperimentConfig: Codable, Equatable, Sendable {
    /// Run name; outputs go to `<checkpoint.directory>/<name>/`.
    public var name: String
    /// Seed for initialisation, shuffling, dropout and augmentation.
    public var seed: UInt64
    /// The kind of learning (`classification`, `language_model`, `seq2seq`, or any task
    /// registered in `TaskRegistry`); nil: the one `data.dataset` implies.
    public var task: String?
    public var data: DataConfig
    public var model: ModelConfig
    public var train: TrainConfig
    public var checkpoint: CheckpointConfig
    /// What the run logs besides metrics.jsonl (TensorBoard event files).
    public var logging: LoggingConfig
    /// Data-parallel settings (used under mpirun).
    public var distributed: DistributedConfig
    /// `phalanx ensemble`: the members to train and how to combine them.
    public var ensemble: EnsembleConfig?
    /// `phalanx sweep`: the values to search over.
    public var sweep: SweepConfig?
    /// Task `autoencoder`: the code layer, the loss, denoising and sparsity.
    public var autoencoder: AutoencoderConfig?
    /// Weights to start a fresh run from (another run's checkpoint); nil: the initialisers.
    public var initFrom: InitFromConfig?
    /// Task `gan`: the discriminator and its settings (`model` is the generator).
    public var gan: GANConfig?

    enum CodingKeys: String, CodingKey {
        case name, seed, task, data, model, train, checkpoint, logging, distributed, ensemble, sweep, autoencoder
        case initFrom = "init_from", gan
    }

    public init(name: String = "experiment", seed: UInt64 = 42, data: DataConfig = DataConfig(),
                model: ModelConfig, train: TrainConfig = TrainConfig(),
                checkpoint: CheckpointConfig = CheckpointConfig()) {
        self.name = name; self.seed = seed; self.data = data; self.model = model
        self.train = train; self.checkpoint = checkpoint
        logging = LoggingConfig()
        distributed = DistributedConfig()
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ExperimentConfig(model: ModelConfig(input: [], layers: []))
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? d.name
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        task = try c.decodeIfPresent(String.self, forKey: .task)
        data = try c.decodeIfPresent(DataConfig.self, forKey: .data) ?? DataConfig()
        model = try c.decode(ModelConfig.self, forKey: .model)
        train = try c.decodeIfPresent(TrainConfig.self, forKey: .train) ?? TrainConfig()
        checkpoint = try c.decodeIfPresent(CheckpointConfig.self, forKey: .checkpoint) ?? CheckpointConfig()
        logging = try c.decodeIfPresent(LoggingConfig.self, forKey: .logging) ?? LoggingConfig()
        distributed = try c.decodeIfPresent(DistributedConfig.self, forKey: .distributed) ?? DistributedConfig()
        ensemble = try c.decodeIfPresent(EnsembleConfig.self, forKey: .ensemble)
        sweep = try c.decodeIfPresent(SweepConfig.self, forKey: .sweep)
        autoencoder = try c.decodeIfPresent(AutoencoderConfig.self, forKey: .autoencoder)
        initFrom = try c.decodeIfPresent(InitFromConfig.self, forKey: .initFrom)
        gan = try c.decodeIfPresent(GANConfig.self, forKey: .gan)
    }
}

/// How ranks cooperate under mpirun. Without mpirun (a world of one) none of it applies.
public struct DistributedConfig: Codable, Equatable, Sendable {
    /// Gradient bucket size in MiB: buckets are reduced as soon as backward fills them.
    public var bucketMB: Double
    /// Reduce buckets during backward (true) or all after it (false; for comparison).
    public var overlap: Bool
    /// Batch normalisation with the statistics of the global batch (an allreduce of
    /// per-channel sums in forward and backward) instead of each rank's slice.
    public var syncBatchnorm: Bool

    enum CodingKeys: String, CodingKey {
        case bucketMB = "bucket_mb", overlap, syncBatchnorm = "sync_batchnorm"
    }

    public init() { bucketMB = 4; overlap = true; syncBatchnorm = false }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DistributedConfig()
        bucketMB = try c.decodeIfPresent(Double.self, forKey: .bucketMB) ?? d.bucketMB
        overlap = try c.decodeIfPresent(Bool.self, forKey: .overlap) ?? d.overlap
        syncBatchnorm = try c.decodeIfPresent(Bool.self, forKey: .syncBatchnorm) ?? d.syncBatchnorm
    }
}

/// Where the data comes from and how it is prepared.
public struct DataConfig: Codable, Equatable, Sendable {
    /// `fashion-mnist` (Debian's dataset-fashion-mnist) or `idx` (name the four files).
    public var dataset: String
    /// How the files are stored: `idx` (nil: the default, as `dataset` says), `npy`
    /// (.npy files or .npz archives), `csv` (a numeric table with a header) or
    /// `image_folder` (root/<class>/<image>.png|jpg, torchvision's ImageFolder).
    public var format: String?
    /// The training and test data of `format` npy (an .npz archive; `test` defaults to
    /// `train`), csv (a file) or image_folder (a root folder).
    public var train: String?
    public var test: String?
    /// The names of the images and labels arrays in an .npz archive: default
    /// `[x_train, y_train]` and `[x_test, y_test]` (Keras's mnist.npz).
    public var trainKeys: [String]?
    public var testKeys: [String]?
    /// The CSV column holding class indices (default `label`); every other column is a feature.
    public var labelColumn: String?
    /// Image folders: 1 (greyscale) or 3 (RGB); default 3 if any training image is colour, else 1.
    public var channels: Int?
    /// Directory holding `{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`.
    public var directory: String
    public var trainImages: String?
    public var trainLabels: String?
    public var testImages: String?
    public var testLabels: String?
    /// Training samples held out for validation (0: none).
    public var validation: Int
    /// Seed of the validation split (default: the experiment's seed). An ensemble's
    /// members set it to the ensemble's seed, so that they share one training split.
    public var splitSeed: UInt64?
    /// `standardize` (training-set mean/std per channel), `min_max`, `scale` (÷255) or `none`.
    public var normalize: String
    /// Random crop padding in pixels (0: off).
    public var cropPadding: Int
    /// Random horizontal flips.
    public var horizontalFlip: Bool
    /// Standard deviation of Gaussian noise added in training (0: off).
    public var noiseStd: Float
    /// Use only the first N training samples (0: all) — for quick runs and tests.
    public var limit: Int
    /// Train on only this many labelled samples of each class (0: all), a fixed subset
    /// drawn from the seed after the validation split — the few-label setting.
    public var labelsPerClass: Int
    /// Text data set (`dataset: text`): files or directories to read (default Debian's
    /// fortunes) and the characters per truncated-BPTT chunk.
    public var text: [String]
    public var sequenceLength: Int
    /// Text data set: what a token is — `characters` (the default) or `words` (lower-cased
    /// words and punctuation, `<eos>` at line ends; see `WordTokenizer`).
    public var tokens: String
    /// `tokens: words`: the most frequent training words kept (default 10 000); the
    /// vocabulary adds `<unk>` and `<eos>` to them (torchtext's `max_tokens` less the specials).
    public var vocabulary: Int?
    /// Generated pairs (`dataset: seq2seq`): the task (`number_words`, `reverse`), the
    /// source lengths in digits, and how many training and test pairs (`validation`
    /// pairs are drawn besides).
    public var task: String
    public var minLength: Int
    public var maxLength: Int
    public var trainPairs: Int
    public var testPairs: Int

    enum CodingKeys: String, CodingKey {
        case dataset, directory, validation, normalize, splitSeed = "split_seed", limit, labelsPerClass = "labels_per_class", text, sequenceLength = "sequence_length"
        case tokens, vocabulary
        case task, minLength = "min_length", maxLength = "max_length", trainPairs = "train_pairs", testPairs = "test_pairs"
        case trainImages = "train_images", trainLabels = "train_labels"
        case testImages = "test_images", testLabels = "test_labels"
        case cropPadding = "crop_padding", horizontalFlip = "horizontal_flip", noiseStd = "noise_std"
        case format, train, test, trainKeys = "train_keys", testKeys = "test_keys", labelColumn = "label_column", channels
    }

    public init() {
        dataset = "fashion-mnist"; directory = "/usr/share/datasets/fashion-mnist"
        validation = 0; normalize = "standardize"; cropPadding = 0; horizontalFlip = false
        noiseStd = 0; limit = 0; labelsPerClass = 0; text = ["/usr/share/games/fortunes"]; sequenceLength = 64
        tokens = "characters"
        task = "number_words"; minLength = 1; maxLength = 9; trainPairs = 50_000; testPairs = 5_000
    }

    public init(from decoder: Decoder) throws {
        let d = DataConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dataset = try c.decodeIfPresent(String.self, forKey: .dataset) ?? d.dataset
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? d.directory
        trainImages = try c.decodeIfPresent(String.self, forKey: .trainImages)
        trainLabels = try c.decodeIfPresent(String.self, forKey: .trainLabels)
        testImages = try c.decodeIfPresent(String.self, forKey: .testImages)
        testLabels = try c.decodeIfPresent(String.self, forKey: .testLabels)
        format = try c.decodeIfPresent(String.self, forKey: .format)
        train = try c.decodeIfPresent(String.self, forKey: .train)
        test = try c.decodeIfPresent(String.self, forKey: .test)
        trainKeys = try c.decodeIfPresent([String].self, forKey: .trainKeys)
        testKeys = try c.decodeIfPresent([String].self, forKey: .testKeys)
        labelColumn = try c.decodeIfPresent(String.self, forKey: .labelColumn)
        channels = try c.decodeIfPresent(Int.self, forKey: .channels)
        validation = try c.decodeIfPresent(Int.self, forKey: .validation) ?? d.validation
        splitSeed = try c.decodeIfPresent(UInt64.self, forKey: .splitSeed)
        normalize = try c.decodeIfPresent(String.self, forKey: .normalize) ?? d.normalize
        cropPadding = try c.decodeIfPresent(Int.self, forKey: .cropPadding) ?? d.cropPadding
        horizontalFlip = try c.decodeIfPresent(Bool.self, forKey: .horizontalFlip) ?? d.horizontalFlip
        noiseStd = try c.decodeIfPresent(Float.self, forKey: .noiseStd) ?? d.noiseStd
        limit = try c.decodeIfPresent(Int.self, forKey: .limit) ?? d.limit
        labelsPerClass = try c.decodeIfPresent(Int.self, forKey: .labelsPerClass) ?? d.labelsPerClass
        text = try c.decodeIfPresent([String].self, forKey: .text) ?? d.text
        sequenceLength = try c.decodeIfPresent(Int.self, forKey: .sequenceLength) ?? d.sequenceLength
        tokens = try c.decodeIfPresent(String.self, forKey: .tokens) ?? d.tokens
        vocabulary = try c.decodeIfPresent(Int.self, forKey: .vocabulary)
        task = try c.decodeIfPresent(String.self, forKey: .task) ?? d.task
        minLength = try c.decodeIfPresent(Int.self, forKey: .minLength) ?? d.minLength
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? d.maxLength
        trainPairs = try c.decodeIfPresent(Int.self, forKey: .trainPairs) ?? d.trainPairs
        testPairs = try c.decodeIfPresent(Int.self, forKey: .testPairs) ?? d.testPairs
    }
}

/// The network: an input shape and a list (or tree) of layers — or an encoder–decoder.
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Shape of one sample, e.g. `[1, 28, 28]`.
    public var input: [Int]
    public var layers: [LayerSpec]
    /// An LSTM encoder–decoder instead of `input` and `layers` (`dataset: seq2seq`).
    public var encoderDecoder: EncoderDecoderConfig?

    enum CodingKeys: String, CodingKey { case input, layers, encoderDecoder = "encoder_decoder" }

    public init(input: [Int], layers: [LayerSpec]) {
        self.input = input
        self.layers = layers
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        encoderDecoder = try c.decodeIfPresent(EncoderDecoderConfig.self, forKey: .encoderDecoder)
        if encoderDecoder == nil {
            input = try c.decode([Int].self, forKey: .input)
            layers = try c.decode([LayerSpec].self, forKey: .layers)
        } else {
            input = try c.decodeIfPresent([Int].self, forKey: .input) ?? []
            layers = try c.decodeIfPresent([LayerSpec].self, forKey: .layers) ?? []
        }
    }
}

/// `model.encoder_decoder`: embedding width, LSTM hidden size and layers, attention.
public struct EncoderDecoderConfig: Codable, Equatable, Sendable {
    public var embedding: Int
    public var hidden: Int
    public var layers: Int
    public var attention: Bool

    public init(embedding: Int = 32, hidden: Int = 128, layers: Int = 1, attention: Bool = false) {
        self.embedding = embedding; self.hidden = hidden; self.layers = layers; self.attention = attention
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = EncoderDecoderConfig()
        embedding = try c.decodeIfPresent(Int.self, forKey: .embedding) ?? d.embedding
        hidden = try c.decodeIfPresent(Int.self, forKey: .hidden) ?? d.hidden
        layers = try c.decodeIfPresent(Int.self, forKey: .layers) ?? d.layers
        attention = try c.decodeIfPresent(Bool.self, forKey: .attention) ?? d.attention
    }
}

/// An integer or a pair `[h, w]` (kernel, stride, padding).
public struct IntPair: Codable, Equatable, Sendable {
    public var h: Int, w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) {
            h = v; w = v
        } else {
            let pair = try c.decode([Int].self)
            guard pair.count == 2 else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an integer or a pair [h, w], got \(pair.count) numbers")
            }
            h = pair[0]; w = pair[1]
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if h == w { try c.encode(h) } else { try c.encode([h, w]) }
    }
}
