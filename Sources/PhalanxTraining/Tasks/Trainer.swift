// The trainers as they were called before the one loop — `Trainer`, `LanguageModelTrainer`,
// `Seq2SeqTrainer` — now each a task run by `TrainingLoop`, returning its summary type.
import Foundation
import PhalanxDistributed

/// What a finished classifier run reports.
public struct TrainingSummary: Codable, Sendable {
    public var name: String
    public var epochs: Int
    public var steps: Int
    public var seconds: Double
    public var trainSamplesPerSec: Double
    public var testLoss: Double
    public var testAccuracy: Double
    public var validationAccuracy: Double?
    /// The checkpoint whose weights gave `testAccuracy`.
    public var checkpoint: String
    public var stoppedEarly: Bool

    enum CodingKeys: String, CodingKey {
        case name, epochs, steps, seconds, checkpoint
        case trainSamplesPerSec = "train_samples_per_sec", testLoss = "test_loss"
        case testAccuracy = "test_accuracy", validationAccuracy = "validation_accuracy"
        case stoppedEarly = "stopped_early"
    }

    /// The classifier's figures of a run summary.
    public init(_ s: RunSummary) {
        name = s.name; epochs = s.epochs; steps = s.steps; seconds = s.seconds; trainSamplesPerSec = s.samplesPerSec
        testLoss = s.metrics["test_loss"] ?? .nan; testAccuracy = s.metrics["test_accuracy"] ?? .nan
        validationAccuracy = s.metrics["validation_accuracy"]; checkpoint = s.checkpoint; stoppedEarly = s.stoppedEarly
    }
}

/// A config, the options of one invocation and the ranks: what the trainers share.
public class TaskTrainer {
    public let loaded: LoadedConfig
    public let options: TrainOptions
    public let communicator: Communicator

    public init(_ loaded: LoadedConfig, options: TrainOptions = TrainOptions(),
                communicator: Communicator = LocalCommunicator()) {
        self.loaded = loaded; self.options = options; self.communicator = communicator
    }
}

/// Trains an image classifier (`ClassificationTask`), alone or as one rank of a data-parallel job.
public final class Trainer: TaskTrainer {
    /// Runs training to the end (or early stop) and evaluates on the test split.
    @discardableResult
    public func run() throws -> TrainingSummary {
        TrainingSummary(try ClassificationTask.kind.train(loaded, options: options, communicator: communicator))
    }
}

/// Trains a character language model (`LanguageModelTask`).
public final class LanguageModelTrainer: TaskTrainer {
    @discardableResult
    public func run() throws -> LanguageModelSummary {
        let s = try LanguageModelTask.kind.train(loaded, options: options, communicator: communicator)
        return LanguageModelSummary(name: s.name, epochs: s.epochs, steps: s.steps, seconds: s.seconds,
                                    trainCharactersPerSec: s.samplesPerSec,
                                    heldOutBitsPerCharacter: s.metrics["validation_bits_per_char"] ?? .nan,
                                    checkpoint: s.checkpoint)
    }
}

/// Trains an encoder–decoder (`Seq2SeqTask`).
public final class Seq2SeqTrainer: TaskTrainer {
    @discardableResult
    public func run() throws -> Seq2SeqSummary {
        let s = try Seq2SeqTask.kind.train(loaded, options: options, communicator: communicator)
        return Seq2SeqSummary(name: s.name, attention: loaded.config.model.encoderDecoder?.attention ?? false,
                              epochs: s.epochs, steps: s.steps, seconds: s.seconds,
                              validationExactMatch: s.metrics["validation_exact_match"] ?? .nan,
                              testExactMatch: s.metrics["test_exact_match"] ?? .nan,
                              testPairs: loaded.config.data.testPairs, checkpoint: s.checkpoint)
    }

    /// Greedy answer of a checkpoint to one source string (`phalanx generate`).
    public static func translate(checkpoint: URL, source: String) throws -> String {
        try Seq2Seq.translate(checkpoint: checkpoint, source: source)
    }

    /// Test-set exact match of a checkpoint, regenerating its config's pairs.
    public static func evaluate(checkpoint: URL) throws -> (exactMatch: Double, pairs: Int, step: Int) {
        try Seq2Seq.evaluate(checkpoint: checkpoint)
    }
}
