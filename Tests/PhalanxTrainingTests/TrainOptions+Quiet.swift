// The options the training tests run with: nothing printed, optionally resuming or
// stopping after some epochs.
@testable import PhalanxTraining

func quiet(resume: Bool = false, stopAfter: Int? = nil) -> TrainOptions {
    var o = TrainOptions()
    o.quiet = true
    o.resume = resume
    o.stopAfterEpochs = stopAfter
    return o
}
