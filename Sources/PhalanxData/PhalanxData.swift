// PhalanxData: data sets (IDX, text), normalisation, augmentation, batching, sampling.
