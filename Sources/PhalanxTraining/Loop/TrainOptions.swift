// Options of one `train` invocation that are not part of the experiment, and the
// failures of a run that are not config, data or checkpoint errors.

/// Options of one `train` invocation that are not part of the experiment.
public struct TrainOptions: Sendable {
    /// Continue from the newest good checkpoint of the run.
    public var resume = false
    /// Stop after this many epochs in total (the schedule still plans for all of them),
    /// as an interrupted run would.
    public var stopAfterEpochs: Int?
    /// Print nothing (tests).
    public var quiet = false
    /// Force plain progress lines (true) or the bar (false); nil: bar on a terminal.
    public var interactive: Bool?
    /// Train on these samples of the training split (indices after the validation
    /// split; repeats allowed) instead of all of it: a bagging member's bootstrap
    /// sample or a boosting round's resample. Normalisation is still fitted on the whole
    /// split, so every member of an ensemble sees its inputs scaled alike. Tasks that
    /// cannot train on a subset refuse it.
    public var trainIndices: [Int]?
    /// Put before every printed line (`[member-2] `), when several runs share one terminal.
    public var linePrefix = ""
    /// Where a stop request comes from, asked after every step (nil: a signal caught by
    /// `StopSignal`; tests give a closure).
    public var stopRequest: (@Sendable (_ step: Int) -> Int32?)?
    public init() {}
}

/// Failures of a run that are not config, data or checkpoint errors.
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int, epoch: Int)
    /// A parameter or buffer holds NaN or infinity where a checkpoint would save it.
    case nonFiniteTensor(name: String, step: Int)
    /// An evaluation gave NaN or infinity.
    case nonFiniteMetric(name: String, of: String)
    case ranksDisagree(String)
    /// A signal asked the run to stop; it saved `checkpoint` (step `step`) first.
    case interrupted(signal: Int32, step: Int, checkpoint: String)

    /// The exit status a stopped run ends with: 128 + the signal, as if it had ended the process.
    public var exitCode: Int32? {
        if case let .interrupted(signal, _, _) = self { return 128 + signal }
        return nil
    }

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, epoch):
            "the loss became NaN or infinite at step \(step) (epoch \(epoch)); lower train.optimizer.lr or set train.clip_norm"
        case let .nonFiniteTensor(name, step):
            "\(name) holds NaN or infinite values at step \(step); no checkpoint was written from them (check the "
                + "learning rate and the layer's settings, e.g. batchnorm momentum in [0, 1])"
        case let .nonFiniteMetric(name, of):
            "\(name) of \(of) is NaN or infinite"
        case let .ranksDisagree(what):
            "the ranks do not run the same experiment: their \(what) differ; start every rank with the same config and data"
        case let .interrupted(signal, step, checkpoint):
            "stopped by \(StopSignal.name(signal)) after step \(step); saved \(checkpoint); continue with --resume"
        }
    }
}
