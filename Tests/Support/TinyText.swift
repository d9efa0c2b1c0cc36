// A tiny text for language-model tests: "abcd" repeated, in a directory of its own,
// and the config of a small character LM over it.
import Foundation

public struct TinyText {
    public let directory: String

    public init() {
        directory = NSTemporaryDirectory() + "phalanx-text-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? String(repeating: "abcd", count: 80).write(toFile: directory + "/text", atomically: true, encoding: .utf8)
    }

    /// embedding 4 → LSTM 8 (→ dropout) → linear to the vocabulary; Adam; checkpoints
    /// under `<directory>/runs`; `extra` is appended at the top level (a `sweep:`).
    public func config(name: String = "lm", epochs: Int = 4, dropout: Float? = nil, keep: Int = 10,
                       extra: String = "") -> String {
        """
        name: \(name)
        seed: 3
        data: {dataset: text, text: [\(directory)/text], validation: 40, sequence_length: 8}
        model:
          input: [8]
          layers:
            - {kind: embedding, name: embed, out: 4}
            - {kind: lstm, name: lstm, out: 8, return_sequences: true}
        \(dropout.map { "    - {kind: dropout, p: \($0)}" } ?? "")
            - {kind: linear, name: head}
        train: {epochs: \(epochs), batch_size: 4, optimizer: {kind: adam, lr: 0.03}}
        checkpoint: {directory: \(directory)/runs, keep: \(keep)}
        \(extra)
        """
    }

    public func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
}
