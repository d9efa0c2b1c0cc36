// Text for character language models: files read as UTF-8, a vocabulary of the
// characters (Unicode scalars) of the training text, ids, and a held-out tail.
import Foundation

/// A character-level corpus: training ids, held-out ids and the vocabulary.
public struct TextCorpus: Sendable {
    /// The characters, sorted by scalar value; a character's id is its index.
    public let vocabulary: [Unicode.Scalar]
    public let train: [Int32]
    public let heldOut: [Int32]

    /// Reads `paths` (files, or directories whose files are all read, skipping `.dat` and
    /// `.u8` — the fortune index and UTF-8 copies), joined by newlines; the last
    /// `heldOut` characters are held out. Invalid UTF-8 bytes become U+FFFD.
    public static func load(paths: [String], heldOut: Int) throws(DataError) -> TextCorpus {
        let (scalars, where_) = try read(paths: paths)
        guard heldOut >= 0, scalars.count > heldOut + 2 else {
            throw .impossibleDimensions(path: where_, dimensions: [scalars.count],
                                        reason: "\(scalars.count) characters cannot leave \(heldOut) held out and some to train on")
        }
        let cut = scalars.count - heldOut
        let vocabulary = Array(Set(scalars[..<cut])).sorted { $0.value < $1.value }
        let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($0.element, Int32($0.offset)) })
        let train = scalars[..<cut].map { index[$0]! }
        // A held-out character never seen in training maps to the first character.
        let held = scalars[cut...].map { index[$0] ?? 0 }
        return TextCorpus(vocabulary: vocabulary, train: train, heldOut: held)
    }

    /// The text of `paths` (files, or directories whose files are all read, skipping `.dat`
    /// and `.u8`), joined by newlines, and a phrase naming where it came from for errors.
    public static func read(paths: [String]) throws(DataError) -> (scalars: [Unicode.Scalar], source: String) {
        var files: [String] = []
        for p in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDirectory) else { throw .fileNotFound(path: p) }
            if isDirectory.boolValue {
                let names = ((try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []).sorted()
                files += names.filter { !$0.hasSuffix(".dat") && !$0.hasSuffix(".u8") && !$0.hasPrefix(".") }
                    .map { (p as NSString).appendingPathComponent($0) }
                    .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue }
            } else {
                files.append(p)
            }
        }
        var scalars: [Unicode.Scalar] = []
        for f in files {
            guard let data = FileManager.default.contents(atPath: f) else {
                throw .unreadable(path: f, reason: "cannot read the file")
            }
            scalars += String(decoding: data, as: UTF8.self).unicodeScalars
            scalars.append("\n")
        }
        return (scalars, files.count == 1 ? files[0] : "\(files.count) files under \(paths.joined(separator: ", "))")
    }

    public init(vocabulary: [Unicode.Scalar], train: [Int32], heldOut: [Int32]) {
        self.vocabulary = vocabulary
        self.train = train
        self.heldOut = heldOut
    }

    /// Ids of the characters of `text` that are in the vocabulary.
    public static func encode(_ text: String, vocabulary: [Unicode.Scalar]) -> [Int32] {
        let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($0.element, Int32($0.offset)) })
        return text.unicodeScalars.compactMap { index[$0] }
    }

    public static func decode(_ ids: [Int32], vocabulary: [Unicode.Scalar]) -> String {
        var s = String.UnicodeScalarView()
        for id in ids where id >= 0 && Int(id) < vocabulary.count { s.append(vocabulary[Int(id)]) }
        return String(s)
    }
}
