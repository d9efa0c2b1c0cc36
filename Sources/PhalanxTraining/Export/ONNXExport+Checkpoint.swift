// ONNX export of a checkpoint: load it as `phalanx evaluate` does, build the graph,
// write the file.
import Foundation
import PhalanxData

/// A checkpoint that cannot be exported, or a file that cannot be written.
public struct ExportError: Error, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

extension ONNXExport {
    /// What the exported model reads, in words (also its doc string).
    public var inputDescription: String {
        guard let input = model.inputs.first, let output = model.outputs.first else { return "" }
        func dims(_ v: ONNXValueInfo) -> String {
            "[" + v.dims.map { if case .size(let n) = $0 { "\(n)" } else if case .named(let s) = $0 { s } else { "?" } }
                .joined(separator: ", ") + "]"
        }
        let normalised = model.initializers.contains { $0.name == "normalization.shift" }
        return "input '\(input.name)': float32 \(dims(input)), pixel values as the data files hold them (0-255 for 8-bit images)"
            + (normalised ? ", normalised inside the graph" : "")
            + "; output '\(output.name)': float32 \(dims(output))"
    }

    /// The ONNX model of the classifier checkpoint `checkpoint` (a step directory, `latest` or `best`).
    public static func checkpoint(_ checkpoint: URL) throws -> ONNXExport {
        let task = try TaskRegistry.kind(ofCheckpoint: checkpoint)
        guard task.name == "classification" else {
            throw ExportError(file: checkpoint.path, message: "ONNX export takes image classifiers; this checkpoint's task is "
                + "\(task.name)")
        }
        let loaded = try LoadedModel(checkpoint)
        var e = try model(of: loaded.network, inputShape: loaded.config.model.input, normalization: loaded.normalization)
        e.model.graphName = loaded.config.name
        e.model.docString = "Phalanx \(loaded.config.name), step \(loaded.step). " + e.inputDescription
        var metadata = [("phalanx.config", loaded.config.name), ("phalanx.step", "\(loaded.step)")]
        if let n = loaded.normalization, n.method != .none {
            metadata.append(("phalanx.normalization", "\(n.method.rawValue): (x - \(n.shift)) * \(n.scale)"))
        }
        e.model.metadata = metadata.map { (key: $0.0, value: $0.1) }
        return e
    }

    /// Writes the model to `url` (a temporary sibling renamed into place).
    public func write(to url: URL) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        do {
            try Data(model.encoded()).write(to: temporary)
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
            try FileManager.default.moveItem(at: temporary, to: url)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ExportError(file: url.path, message: "cannot write the ONNX model: \(error.localizedDescription)")
        }
    }

    /// The operators of the graph with their counts, in order of first use (`Conv ×2, Relu ×4`).
    public var operatorSummary: String {
        var order: [String] = [], counts: [String: Int] = [:]
        for n in model.nodes {
            if counts[n.opType] == nil { order.append(n.opType) }
            counts[n.opType, default: 0] += 1
        }
        return order.map { counts[$0]! > 1 ? "\($0) ×\(counts[$0]!)" : $0 }.joined(separator: ", ")
    }
}
