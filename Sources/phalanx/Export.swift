import ArgumentParser
import Foundation
import PhalanxTraining

/// `phalanx export`: a classifier checkpoint as a model another runtime can serve.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a classifier checkpoint as an ONNX model (opset 17).",
        discussion: """
        Example: phalanx export --format onnx runs/fashion-lenet/checkpoints/latest --output lenet.onnx

        The model reads float32 [N, C, H, W] pixel values as the data files hold them (0-255 for \
        Fashion-MNIST): the run's normalisation is the graph's first two nodes. Its output 'logits' is \
        what `phalanx evaluate --logits` writes. Dropout and auxiliary heads (training only) are left \
        out; a layer ONNX cannot express the same way is an error that names it.
        """)

    @Option(help: "The file format; onnx is the one there is.")
    var format = "onnx"

    @Argument(help: "A checkpoint directory (step-…, latest or best) of a classifier.")
    var checkpoint: String

    @Option(name: .shortAndLong, help: "The .onnx file to write.")
    var output: String

    func validate() throws {
        guard format == "onnx" else { throw ValidationError("--format must be onnx, got '\(format)'") }
        guard !output.isEmpty else { throw ValidationError("--output must name a file") }
    }

    func run() throws {
        try reportingErrors {
            let url = URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath()
            let export = try ONNXExport.checkpoint(url)
            try export.write(to: URL(fileURLWithPath: output))
            let m = export.model
            let weights = m.initializers.reduce(0) { n, t in if case .float(let v) = t.values { n + v.count } else { n } }
            print("wrote \(output): \(m.nodes.count) nodes (\(export.operatorSummary)), \(m.initializers.count) initializers "
                + "(\(weights) floats), opset \(m.opset)")
            print(export.inputDescription)
            for r in export.removed { print("left out \(r)") }
        }
    }
}
