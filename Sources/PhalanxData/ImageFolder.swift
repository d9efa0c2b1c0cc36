// Image folders as torchvision's ImageFolder reads them: `root/<class>/<image>`, the
// classes the sorted subfolder names (index 0 the first), the images of each class in
// sorted file-name order. Files ending in .png, .jpg or .jpeg (any case) are images;
// other files and hidden ones are skipped. Every image must have the size of the first;
// the data set has one channel when every image is greyscale and three (RGB) when any is
// colour, unless a channel count is asked for. Pixels are the decoded bytes 0…255, as IDX
// gives them. Files are decoded in parallel; errors name the first bad file in order.
import Foundation
import PhalanxCore

/// Reads class-per-subfolder image data sets.
public enum ImageFolder {
    /// The file name endings taken as images (compared in lower case).
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The class folders of `root` (sorted names) and their image files, labelled by
    /// their class's index in `classes` (default: these folders). A class folder with
    /// no image is an error naming it; so is one not in a given `classes`.
    public static func list(_ root: String, classes given: [String]? = nil) throws(DataError)
        -> (classes: [String], files: [String], labels: [Int32]) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory) else { throw .fileNotFound(path: root) }
        guard isDirectory.boolValue else { throw .malformed(path: root, entry: nil, reason: "not a folder; an image folder holds one subfolder per class") }
        func contents(_ dir: String) throws(DataError) -> [String] {
            do {
                return try fm.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted()
            } catch {
                throw .unreadable(path: dir, reason: error.localizedDescription)
            }
        }
        let folders = try contents(root).filter { name in
            var d: ObjCBool = false
            return fm.fileExists(atPath: (root as NSString).appendingPathComponent(name), isDirectory: &d) && d.boolValue
        }
        guard !folders.isEmpty else {
            throw .malformed(path: root, entry: nil, reason: "no class subfolders (an image folder holds root/<class>/<image>)")
        }
        let classes = given ?? folders
        var files: [String] = [], labels: [Int32] = []
        for folder in folders {
            let dir = (root as NSString).appendingPathComponent(folder)
            guard let label = classes.firstIndex(of: folder) else {
                throw .malformed(path: dir, entry: nil, reason: "class '\(folder)' is not one of the training classes "
                    + "(\(classes.joined(separator: ", ")))")
            }
            let images = try contents(dir).filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            guard !images.isEmpty else { throw .emptyClass(path: dir) }
            for image in images {
                files.append((dir as NSString).appendingPathComponent(image))
                labels.append(Int32(label))
            }
        }
        return (classes, files, labels)
    }

    /// Loads `root` as a data set `[N, C, H, W]`. `classes`, `channels` and `size`
    /// (`[height, width]`) come from the training folder when loading a test folder.
    public static func load(_ root: String, classes: [String]? = nil, channels: Int? = nil, size: [Int]? = nil,
                            sizeSource: String? = nil, name: String? = nil) throws(DataError) -> (dataset: Dataset, classes: [String]) {
        if let channels, channels != 1 && channels != 3 {
            throw .invalidSetting(setting: "channels", reason: "\(channels) must be 1 (greyscale) or 3 (RGB)")
        }
        let listing = try list(root, classes: classes)
        let files = listing.files
        // Headers: size and colour of every file.
        let headers = try parallelMap(files.count) { i throws(DataError) in try ImageDecoder.header(files[i]) }
        let first = headers[0]
        let (height, width) = size.map { ($0[0], $0[1]) } ?? (first.height, first.width)
        let firstPath = sizeSource ?? files[0]
        if let bad = headers.indices.first(where: { headers[$0].height != height || headers[$0].width != width }) {
            throw .imageSizeMismatch(path: files[bad], found: [headers[bad].height, headers[bad].width],
                                     expected: [height, width], firstPath: firstPath)
        }
        let c = channels ?? (headers.contains { $0.colour } ? 3 : 1)
        let images = Tensor(shape: [files.count, c, height, width])
        let out = UncheckedSendable(images.data)
        let plane = height * width
        // Decoding: each chunk reuses one interleaved byte buffer.
        var failures = [DataError?](repeating: nil, count: Parallel.threads)
        failures.withUnsafeMutableBufferPointer { failed in
            let failed = UncheckedSendable(failed)
            Parallel.forChunks(files.count) { chunk, range in
                let pixels = UnsafeMutablePointer<UInt8>.allocate(capacity: plane * c)
                defer { pixels.deallocate() }
                for i in range {
                    do throws(DataError) {
                        try ImageDecoder.decode(files[i], channels: c, height: height, width: width, firstPath: firstPath,
                                                into: pixels)
                    } catch {
                        failed.value[chunk] = error
                        return
                    }
                    let dst = out.value + i * plane * c
                    for p in 0..<plane {
                        for k in 0..<c { dst[k * plane + p] = Float(pixels[p * c + k]) }
                    }
                }
            }
        }
        if let error = failures.lazy.compactMap({ $0 }).first { throw error }
        return (Dataset(images: images, labels: listing.labels, classCount: listing.classes.count, name: name ?? root),
                listing.classes)
    }

    /// `body(i)` for every i in `0..<count`, in parallel chunks; the first error in index order is thrown.
    static func parallelMap<T>(_ count: Int, _ body: (Int) throws(DataError) -> T) throws(DataError) -> [T] {
        var results = [T?](repeating: nil, count: count)
        var failures = [DataError?](repeating: nil, count: Parallel.threads)
        results.withUnsafeMutableBufferPointer { r in
            failures.withUnsafeMutableBufferPointer { f in
                let (r, f) = (UncheckedSendable(r), UncheckedSendable(f))
                Parallel.forChunks(count) { chunk, range in
                    for i in range {
                        do throws(DataError) { r.value[i] = try body(i) } catch { f.value[chunk] = error; return }
                    }
                }
            }
        }
        if let error = failures.lazy.compactMap({ $0 }).first { throw error }
        return results.map { $0! }
    }
}
