// The names of a classifier's classes, for people: Fashion-MNIST's garments, else the
// class numbers.

/// Class names by label, for pictures and tables.
public enum ClassNames {
    /// `count` names for the classes of `config`'s data: Fashion-MNIST's ("T-shirt/top" …)
    /// when the data set is Fashion-MNIST with its ten classes, else "0", "1", ….
    public static func of(_ config: ExperimentConfig, count: Int) -> [String] {
        let fashion = FeatureExtraction.fashionMNISTClasses
        if config.data.dataset == "fashion-mnist" && count == fashion.count { return fashion }
        return (0..<count).map(String.init)
    }
}
