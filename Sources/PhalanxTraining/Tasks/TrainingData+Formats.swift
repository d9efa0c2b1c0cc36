// The data formats besides IDX (`data.format`): NumPy arrays, CSV tables and image folders.
// Each reads a training and a test split; the test split must agree with the training one
// (classes, columns, image size and channels). Relative paths are taken from the working
// directory, as for every other path a config names.
import PhalanxData

extension TrainingData {
    /// The values of `data.format`.
    public static let formats = ["idx", "npy", "csv", "image_folder"]

    /// The keys of each format besides `train` and `test`.
    static let formatKeys = ["npy": ["train_keys", "test_keys", "train_images", "train_labels", "test_images", "test_labels"],
                             "csv": ["label_column"], "image_folder": ["channels"]]

    /// Which of the format keys a config sets.
    static func given(_ d: DataConfig) -> [String: Bool] {
        ["train": d.train != nil, "test": d.test != nil, "train_keys": d.trainKeys != nil, "test_keys": d.testKeys != nil,
         "label_column": d.labelColumn != nil, "channels": d.channels != nil, "train_images": d.trainImages != nil,
         "train_labels": d.trainLabels != nil, "test_images": d.testImages != nil, "test_labels": d.testLabels != nil]
    }

    /// With IDX data, the keys of the other formats are errors naming them.
    static func refuseFormatKeys(_ d: DataConfig, fail: (String, String) -> ConfigError) throws {
        let set = given(d)
        for key in ["train", "test", "train_keys", "test_keys", "label_column", "channels"] where set[key] == true {
            throw fail("data.\(key)", "a setting of data.format npy, csv or image_folder, not of IDX data; set data.format")
        }
    }

    /// Loads the training and test splits of `format`.
    static func loadFormat(_ format: String, _ d: DataConfig, fail: (String, String) -> ConfigError) throws -> (Dataset, Dataset) {
        guard let own = formatKeys[format] else {
            throw fail("data.format", "unknown format '\(format)'; known: \(formats.joined(separator: ", "))")
        }
        let defaults = DataConfig()
        if d.dataset != defaults.dataset {
            throw fail("data.dataset", "names IDX data ('\(d.dataset)'); with data.format \(format) the files are data.train and data.test")
        }
        if d.directory != defaults.directory {
            throw fail("data.directory", "applies to IDX data; with data.format \(format) data.train and data.test name the files")
        }
        let set = given(d)
        let others = formatKeys.filter { $0.key != format }.flatMap(\.value).filter { !own.contains($0) }
        if let key = others.sorted().first(where: { set[$0] == true }) {
            let owner = formatKeys.first { $0.value.contains(key) }!.key
            throw fail("data.\(key)", "a setting of data.format \(owner), not of \(format)")
        }
        switch format {
        case "npy": return try loadNumPy(d, fail: fail)
        case "csv":
            let (train, test) = try paths(d, format, "a CSV file with a header row", fail: fail)
            let column = d.labelColumn ?? "label"
            let trainPart = try Dataset.loadCSV(train, labelColumn: column, name: "train")
            let testPart = try Dataset.loadCSV(test, labelColumn: column,
                                               like: (trainPart.table, train, trainPart.dataset.classCount), name: "test")
            return (trainPart.dataset, testPart.dataset)
        default:
            let (train, test) = try paths(d, format, "a folder of class subfolders", fail: fail)
            if let c = d.channels, c != 1 && c != 3 { throw fail("data.channels", "\(c) must be 1 (greyscale) or 3 (RGB)") }
            let trainPart = try ImageFolder.load(train, channels: d.channels, name: "train")
            let t = trainPart.dataset
            let testPart = try ImageFolder.load(test, classes: trainPart.classes, channels: t.channels,
                                                size: [t.height, t.width], sizeSource: "\(train) (the training images)",
                                                name: "test")
            return (t, testPart.dataset)
        }
    }

    /// `data.train` and `data.test`, both required.
    private static func paths(_ d: DataConfig, _ format: String, _ what: String,
                              fail: (String, String) -> ConfigError) throws -> (String, String) {
        guard let train = d.train else { throw fail("data.train", "data.format \(format) needs 'train': \(what)") }
        guard let test = d.test else { throw fail("data.test", "data.format \(format) needs 'test': \(what)") }
        return (train, test)
    }

    /// NumPy data: an .npz archive in `train` (and `test`, default the same archive) with
    /// the arrays `train_keys` / `test_keys`, or four .npy files in `train_images` … `test_labels`.
    private static func loadNumPy(_ d: DataConfig, fail: (String, String) -> ConfigError) throws -> (Dataset, Dataset) {
        let images: (train: NumPySource, trainLabels: NumPySource, test: NumPySource, testLabels: NumPySource)
        let files = [("train_images", d.trainImages), ("train_labels", d.trainLabels),
                     ("test_images", d.testImages), ("test_labels", d.testLabels)]
        if files.contains(where: { $0.1 != nil }) {
            for key in ["train", "test", "train_keys", "test_keys"] where given(d)[key] == true {
                throw fail("data.\(key)", "an .npz setting; this config names .npy files in train_images … test_labels")
            }
            var sources: [NumPySource] = []
            for (key, value) in files {
                guard let value else { throw fail("data.\(key)", "missing: .npy data needs train_images, train_labels, test_images and test_labels") }
                if value.hasSuffix(".npz") {
                    throw fail("data.\(key)", "'\(value)' is an .npz archive: name it in data.train (and data.test) with data.train_keys")
                }
                sources.append(NumPySource(path: value))
            }
            images = (sources[0], sources[1], sources[2], sources[3])
        } else {
            guard let train = d.train else {
                throw fail("data.train", "data.format npy needs 'train' (an .npz archive) or train_images, train_labels, "
                    + "test_images and test_labels (.npy files)")
            }
            for (key, value) in [("train", train), ("test", d.test ?? train)] where value.hasSuffix(".npy") {
                throw fail("data.\(key)", "'\(value)' is one array; name .npy files in data.\(key)_images and data.\(key)_labels")
            }
            func keys(_ key: String, _ value: [String]?, _ standard: [String]) throws -> [String] {
                guard let value else { return standard }
                guard value.count == 2, !value.contains("") else {
                    throw fail("data.\(key)", "two names, the images array then the labels array, e.g. \(standard); got \(value)")
                }
                return value
            }
            let trainKeys = try keys("train_keys", d.trainKeys, ["x_train", "y_train"])
            let testKeys = try keys("test_keys", d.testKeys, ["x_test", "y_test"])
            let test = d.test ?? train
            images = (NumPySource(path: train, entry: trainKeys[0]), NumPySource(path: train, entry: trainKeys[1]),
                      NumPySource(path: test, entry: testKeys[0]), NumPySource(path: test, entry: testKeys[1]))
        }
        let train = try Dataset.load(images: images.train, labels: images.trainLabels, name: "train")
        let test = try Dataset.load(images: images.test, labels: images.testLabels, classCount: train.classCount, name: "test")
        return (train, test)
    }
}
