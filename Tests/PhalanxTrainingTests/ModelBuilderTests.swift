// Tests for the model-config language: repeats, auxiliary classifiers, and that every
// ready config in configs/ builds with the parameter count its header states.
import Foundation
import PhalanxCore
import PhalanxData
import PhalanxNN
import Testing
@testable import PhalanxTraining

@Suite struct ModelBuilderTests {
    private func model(_ layers: String, input: String = "[2, 6, 6]") throws -> ModelConfig {
        let yaml = """
        name: m
        model:
          input: \(input)
          layers:
        \(layers)
        """
        return try ConfigLoader.load(yaml: yaml).config.model
    }

    @Test func repeatWritesOutCopiesWithTheirOwnParameters() throws {
        let m = try model("""
            - {kind: conv2d, out: 4, kernel: 3, padding: 1}
            - {kind: residual, repeat: 2, layers: [{kind: conv2d, name: conv, out: 4, kernel: 3, padding: 1}, {kind: relu}]}
            - {kind: sequential, name: stage, repeat: 2, layers: [{kind: conv2d, out: 4, kernel: 1}]}
            - {kind: global_avgpool}
        """)
        let built = try ModelBuilder.build(m, seed: 1)
        #expect(built.network.children.map(\.name) == ["conv2d1", "residual1", "residual2", "stage1", "stage2", "global_avgpool1"])
        let names = built.network.parameters.map(\.name)
        #expect(names.contains("residual2.body.conv.weight") && names.contains("stage2.conv2d1.bias"))
        let a = built.network.parameters.first { $0.name == "residual1.body.conv.weight" }!
        let b = built.network.parameters.first { $0.name == "residual2.body.conv.weight" }!
        #expect(a !== b && a.value.scalars != b.value.scalars)
    }

    @Test func repeatOfZeroNamesTheKey() throws {
        let m = try model("""
            - {kind: flatten}
            - {kind: linear, out: 3, repeat: 0}
        """)
        #expect {
            try ModelBuilder.build(m, seed: 1)
        } throws: { error in
            (error as! ConfigError).key == "model.layers.1.repeat"
        }
    }

    @Test func errorsInsideARepeatNameTheListedSpec() throws {
        let m = try model("""
            - {kind: flatten}
            - {kind: relu}
            - {kind: linear, repeat: 2}
        """)
        #expect {
            try ModelBuilder.build(m, seed: 1)
        } throws: { error in
            (error as! ConfigError).key == "model.layers.2"
        }
    }

    /// Two builds of the same architecture, one with the auxiliary head's loss weighted 0.
    private func auxiliaryPair() throws -> (BuiltModel, BuiltModel) {
        func build(_ w: Float) throws -> BuiltModel {
            let m = try model("""
                - {kind: conv2d, name: conv1, out: 3, kernel: 3, padding: 1}
                - {kind: relu}
                - {kind: auxiliary, name: aux1, weight: \(w), layers: [{kind: global_avgpool}, {kind: linear, name: fc, out: 4}]}
                - {kind: conv2d, name: conv2, out: 4, kernel: 3}
                - {kind: global_avgpool}
            """)
            return try ModelBuilder.build(m, seed: 5)
        }
        return (try build(0.4), try build(0))
    }

    @Test func auxiliaryChangesTrainingButNotEvaluation() throws {
        let (withAux, without) = try auxiliaryPair()
        #expect(withAux.auxiliaries.count == 1 && withAux.auxiliaries[0].weight == 0.4)
        #expect(withAux.network.parameters.map(\.name).contains("aux1.fc.weight"))
        var rng = RNG(seed: 9)
        let x = Tensor(shape: [3, 2, 6, 6])
        rng.fillUniform(x, -1, 1)
        let labels: [Int32] = [0, 3, 1]
        for m in [withAux, without] { for a in m.auxiliaries { a.target = .labels(labels) } }

        // Evaluation: the same outputs, and the head does not run.
        let e1 = withAux.network.forward(x, mode: .evaluation).copy()
        let e2 = without.network.forward(x, mode: .evaluation).copy()
        #expect(e1.scalars == e2.scalars)
        #expect(withAux.auxiliaries[0].lastLoss == 0)

        // Training: one gradient of the same main loss; the head's weighted loss reaches conv1.
        let loss = SoftmaxCrossEntropy()
        var conv1Gradients: [[Float]] = []
        for m in [withAux, without] {
            m.network.zeroGradients()
            let y = m.network.forward(x, mode: .training)
            let (_, g) = loss.evaluate(y, target: .labels(labels))
            _ = m.network.backward(g)
            conv1Gradients.append(m.network.parameters.first { $0.name == "conv1.weight" }!.gradient.scalars)
            let conv2 = m.network.parameters.first { $0.name == "conv2.weight" }!.gradient.scalars
            if m.auxiliaries[0].weight == 0 {
                #expect(conv2 == withAux.network.parameters.first { $0.name == "conv2.weight" }!.gradient.scalars)
            }
        }
        #expect(withAux.auxiliaries[0].lastLoss > 0)
        #expect(conv1Gradients[0] != conv1Gradients[1])
    }

    /// The configs directory of this checkout.
    private var configsDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs")
    }

    @Test func everyReadyConfigBuildsWithItsStatedParameterCount() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: configsDirectory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 2)
        for file in files {
            let path = configsDirectory.appendingPathComponent(file).path
            let loaded = try ConfigLoader.load(path: path)
            // A language model's size depends on its text's vocabulary (characters or words).
            let vocabulary = loaded.config.data.dataset == "text"
                ? try LanguageModelText.load(loaded.config.data, fail: loaded.error).vocabularySize
                : nil
            let network: Layer
            if loaded.config.data.dataset == "seq2seq" {
                let pairs = try Seq2Seq.pairs(loaded.config, fail: loaded.error)
                network = try Seq2Seq.model(loaded.config, sourceVocabulary: pairs.sourceVocabulary.count,
                                                   targetVocabulary: pairs.targetVocabulary.count,
                                                   maxSource: pairs.maxSourceLength, maxTarget: pairs.maxTargetLength,
                                                   fail: loaded.error)
            } else {
                network = try ModelBuilder.build(loaded.config.model, seed: 1, vocabulary: vocabulary, fail: loaded.error).network
            }
            let count = ModelState.parameterCount(ModelState.tensors(of: network))
            let text = try String(contentsOfFile: path, encoding: .utf8)
            // Header line "# parameters: 61 706" (spaces between thousands allowed).
            let stated = text.split(separator: "\n").first { $0.hasPrefix("# parameters:") }
                .map { $0.dropFirst("# parameters:".count).filter(\.isNumber) }.flatMap { Int($0) }
            #expect(stated == count, "\(file): header says \(stated.map(String.init) ?? "nothing"), model has \(count)")
        }
    }
}
