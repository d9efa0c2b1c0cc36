// Data sets from NumPy arrays and CSV tables (image folders: ImageFolder.load), checked
// as IDX pairs are: labels must match the samples in number and, for a test split, lie
// below the training split's class count.
import PhalanxCore

extension Dataset {
    /// Loads images and labels from .npy files or .npz entries. Without `classCount`, it
    /// is the largest label plus one; with it, a larger label is an error naming the labels.
    public static func load(images: NumPySource, labels: NumPySource, classCount: Int? = nil,
                            name: String? = nil) throws(DataError) -> Dataset {
        let pixels = try NumPy.readImages(images)
        let classes = try NumPy.readLabels(labels, classCount: classCount)
        if classes.count != pixels.shape[0] {
            throw .countMismatch(imagesPath: images.description, images: pixels.shape[0],
                                 labelsPath: labels.description, labels: classes.count)
        }
        return Dataset(images: pixels, labels: classes, classCount: classCount ?? (Int(classes.max() ?? 0) + 1),
                       name: name ?? images.description)
    }

    /// Loads a CSV table (`CSV.read`) as samples `[F, 1, 1]`; with `like` (the training
    /// table), the columns must be the same and labels below its class count.
    public static func loadCSV(_ path: String, labelColumn: String, like train: (table: CSV.Table, path: String, classCount: Int)? = nil,
                               name: String? = nil) throws(DataError) -> (dataset: Dataset, table: CSV.Table) {
        let table = try CSV.read(path, labelColumn: labelColumn, columns: train.map { ($0.table.columns, $0.path) })
        let classes = train?.classCount ?? (Int(table.labels.max() ?? 0) + 1)
        if let i = table.labels.firstIndex(where: { Int($0) >= classes }) {
            throw .labelOutOfRange(path: path, index: i, label: Int(table.labels[i]), classCount: classes)
        }
        return (Dataset(images: table.features, labels: table.labels, classCount: classes, name: name ?? path), table)
    }
}
