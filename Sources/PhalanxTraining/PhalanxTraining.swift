// PhalanxTraining: configuration, training loop, evaluation, checkpoints, metrics.
