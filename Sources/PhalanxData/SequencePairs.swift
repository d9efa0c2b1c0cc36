// Generated sequence-to-sequence tasks whose answers are known, for encoder–decoders:
//
//   number_words  a number's digits → its English words
//                 "40512" → forty thousand five hundred twelve
//   reverse       a digit string → the same digits backwards
//                 "40512" → 2 1 5 0 4
//
// Source lengths (digits) are drawn uniformly from min…max, the digits uniformly (no
// leading zero for numbers). Test pairs are drawn first; validation and training pairs
// never repeat a test source of four or more digits (there are too few shorter ones to
// hold any out), nor training a validation one. Ids: source 0 = padding, 1…10 = digits
// "0"…"9"; target 0 = padding, 1 = start, 2 = end, then the task's tokens.
import PhalanxCore

public enum SequenceTask: String, Codable, Sendable, CaseIterable {
    case numberWords = "number_words"
    case reverse
}

/// One source–target pair of token ids (no padding, no markers).
public struct SequencePair: Equatable, Sendable {
    public var source: [Int32]
    public var target: [Int32]
    public init(source: [Int32], target: [Int32]) { self.source = source; self.target = target }
}

public struct SequencePairs: Sendable {
    public static let padding: Int32 = 0
    public static let start: Int32 = 1
    public static let end: Int32 = 2

    public let task: SequenceTask
    public let sourceVocabulary: [String]
    public let targetVocabulary: [String]
    public let train: [SequencePair]
    public let validation: [SequencePair]
    public let test: [SequencePair]
    /// The longest source and target (without markers) the task can produce.
    public let maxSourceLength: Int
    public let maxTargetLength: Int

    static let ones = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                       "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                       "nineteen"]
    static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    static let scales = ["", "thousand", "million", "billion"]

    /// The vocabularies of a task: sources are digits, targets the task's tokens.
    public static func vocabularies(_ task: SequenceTask) -> (source: [String], target: [String]) {
        let digits = (0...9).map(String.init)
        let markers = ["<pad>", "<s>", "</s>"]
        switch task {
        case .numberWords:
            return (["<pad>"] + digits, markers + ones + tens.filter { !$0.isEmpty } + ["hundred"] + scales.filter { !$0.isEmpty })
        case .reverse:
            return (["<pad>"] + digits, markers + digits)
        }
    }

    /// English words of a number written in digits (at most 12).
    public static func words(_ digits: String) -> [String] {
        precondition(!digits.isEmpty && digits.count <= 12 && digits.allSatisfy(\.isNumber),
                     "SequencePairs.words: '\(digits)' is not a number of 1 to 12 digits")
        var value = 0
        for c in digits { value = value * 10 + Int(String(c))! }
        if value == 0 { return ["zero"] }
        var out: [String] = []
        var groups: [Int] = []
        while value > 0 { groups.append(value % 1000); value /= 1000 }
        for (i, g) in groups.enumerated().reversed() where g > 0 {
            if g >= 100 { out += [ones[g / 100], "hundred"] }
            let r = g % 100
            if r >= 20 {
                out.append(tens[r / 10])
                if r % 10 > 0 { out.append(ones[r % 10]) }
            } else if r > 0 {
                out.append(ones[r])
            }
            if i > 0 { out.append(scales[i]) }
        }
        return out
    }

    /// The target tokens for a source digit string.
    public static func target(_ task: SequenceTask, digits: String) -> [String] {
        switch task {
        case .numberWords: return words(digits)
        case .reverse: return digits.reversed().map(String.init)
        }
    }

    /// The longest source a task accepts.
    public static func maxSourceLength(_ task: SequenceTask) -> Int { task == .numberWords ? 12 : 64 }

    /// Generates the task's pairs (lengths 1 ≤ min ≤ max ≤ `maxSourceLength`, validated
    /// by the caller against its config).
    public static func generate(task: SequenceTask, minLength: Int, maxLength: Int, train: Int, validation: Int,
                                test: Int, seed: UInt64) -> SequencePairs {
        precondition(minLength >= 1 && maxLength >= minLength && maxLength <= maxSourceLength(task),
                     "SequencePairs: source lengths \(minLength)…\(maxLength)")
        precondition(train > 0 && validation >= 0 && test >= 0, "SequencePairs: pair counts")
        let (sv, tv) = vocabularies(task)
        let tindex = Dictionary(uniqueKeysWithValues: tv.enumerated().map { ($0.element, Int32($0.offset)) })
        var rng = RNG(seed: seed, stream: 31)
        func draw() -> String {
            let n = minLength + rng.int(below: maxLength - minLength + 1)
            var s = ""
            for i in 0..<n {
                let first = i == 0 && n > 1 && task == .numberWords
                s.append(String(first ? 1 + rng.int(below: 9) : rng.int(below: 10)))
            }
            return s
        }
        func pair(_ s: String) -> SequencePair {
            SequencePair(source: s.map { Int32(Int(String($0))! + 1) },
                         target: target(task, digits: s).map { tindex[$0]! })
        }
        var heldOut = Set<String>()
        func set(_ count: Int, holdOut: Bool) -> [SequencePair] {
            var out: [SequencePair] = []
            out.reserveCapacity(count)
            var tries = 0
            while out.count < count {
                let s = draw()
                tries += 1
                if s.count >= 4 && heldOut.contains(s) {
                    if tries > 100 * (count + 10) { break }  // a space too small to hold out
                    continue
                }
                if holdOut { heldOut.insert(s) }
                out.append(pair(s))
            }
            return out
        }
        let testPairs = set(test, holdOut: true)
        let validationPairs = set(validation, holdOut: true)
        let trainPairs = set(train, holdOut: false)
        // Every group of three 7s takes the most words (seven hundred seventy seven).
        let maxTarget = task == .numberWords ? words(String(repeating: "7", count: maxLength)).count : maxLength
        return SequencePairs(task: task, sourceVocabulary: sv, targetVocabulary: tv, train: trainPairs,
                             validation: validationPairs, test: testPairs, maxSourceLength: maxLength,
                             maxTargetLength: maxTarget)
    }

    /// Ids of a digit string (nil when it holds anything else).
    public static func encodeSource(_ digits: String) -> [Int32]? {
        var out: [Int32] = []
        for c in digits {
            guard let d = Int(String(c)), (0...9).contains(d) else { return nil }
            out.append(Int32(d + 1))
        }
        return out
    }

    /// Target ids (markers and padding left out) as text: words joined by spaces, digits
    /// run together.
    public static func decodeTarget(_ ids: [Int32], task: SequenceTask, vocabulary: [String]) -> String {
        ids.compactMap { $0 > end && Int($0) < vocabulary.count ? vocabulary[Int($0)] : nil }
            .joined(separator: task == .numberWords ? " " : "")
    }
}
