// The GAN task: two networks, two optimizers in one checkpoint, resumed bit for bit;
// generate writes a grid and NumPy arrays; bad configs name their key.
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxNN
import PhalanxTestSupport
import Testing
@testable import PhalanxTraining

@Suite(.serialized) struct GANTests {
    /// An 8×8 GAN on TinyData: z (8) → 64 → image; image → 16 → logit.
    func config(_ data: TinyData, name: String = "gan", epochs: Int = 3) -> String {
        """
        name: \(name)
        seed: 4
        task: gan
        data:
          dataset: idx
          directory: \(data.directory)
          train_images: train-images-idx3-ubyte.gz
          train_labels: train-labels-idx1-ubyte.gz
          test_images: t10k-images-idx3-ubyte.gz
          test_labels: t10k-labels-idx1-ubyte.gz
          validation: 30
          normalize: scale
        model:
          input: [8]
          layers:
            - {kind: linear, name: fc, out: 64}
            - {kind: reshape, shape: [1, 8, 8]}
            - {kind: sigmoid}
        gan:
          samples: 16
          discriminator:
            - {kind: flatten}
            - {kind: linear, name: hidden, out: 16}
            - {kind: leaky_relu, slope: 0.2}
            - {kind: linear, name: out, out: 1}
        train:
          epochs: \(epochs)
          batch_size: 30
          optimizer: {kind: adam, lr: 0.002, beta1: 0.5}
        checkpoint: {directory: \(data.directory)/runs, keep: 5}
        """
    }

    @Test func trainsBothNetworksAndResumesBitForBit() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let straight = try GANTask.kind.train(try ConfigLoader.load(yaml: config(data, name: "straight")), options: quiet())
        let ckpt = try Checkpoint<TaskCheckpointState<GANTask.State>>.load(from: URL(fileURLWithPath: straight.checkpoint))
        #expect(ckpt.model.names == ["discriminator.hidden.bias", "discriminator.hidden.weight", "discriminator.out.bias",
                                     "discriminator.out.weight", "generator.fc.bias", "generator.fc.weight"])
        #expect(ckpt.optimizer.names.contains("generator.fc.weight.exp_avg")
                && ckpt.optimizer.names.contains("discriminator.out.weight.exp_avg_sq"))
        for key in ["d_loss", "g_loss", "d_real", "d_fake"] { #expect(straight.metrics["test_\(key)"]?.isFinite == true) }
        #expect(FileManager.default.fileExists(atPath: "\(data.directory)/runs/straight/samples/epoch-003.png"))

        let split = try ConfigLoader.load(yaml: config(data, name: "split"))
        _ = try GANTask.kind.train(split, options: quiet(stopAfter: 1))
        _ = try GANTask.kind.train(split, options: quiet(resume: true))
        #expect(try ModelState.tensors(ofCheckpoint: "\(data.directory)/runs/split/checkpoints/latest")
                == (try ModelState.tensors(ofCheckpoint: straight.checkpoint)))

        // generate: a grid and the arrays, the same images each time for the same seed.
        let prefix = "\(data.directory)/gen"
        let line = try GANTask.kind.generate(checkpoint: URL(fileURLWithPath: straight.checkpoint),
                                             GenerationRequest(prompt: "", seed: 3, count: 10, output: prefix + ".png", arrays: prefix))
        #expect(line.contains("10 generated images"))
        let images = try Data(contentsOf: URL(fileURLWithPath: prefix + "-images.npy"))
        #expect(images.prefix(6) == Data([0x93] + Array("NUMPY".utf8)))
        #expect(String(decoding: images.prefix(128), as: UTF8.self).contains("'shape': (10, 1, 8, 8)"))
        #expect(images.count % 64 == (10 * 64 * 4) % 64 && images.count > 10 * 64 * 4)
        _ = try GANTask.kind.generate(checkpoint: URL(fileURLWithPath: straight.checkpoint),
                                      GenerationRequest(prompt: "", seed: 3, count: 10, output: prefix + "2.png", arrays: prefix + "2"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: prefix + "2-images.npy")) == images)
    }

    @Test func aClassifierScoresTheSamples() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let classifier = try Trainer(try ConfigLoader.load(yaml: data.config(name: "judge")), options: quiet()).run()
        let yaml = config(data, name: "scored", epochs: 2)
            .replacingOccurrences(of: "  samples: 16\n", with: "  samples: 16\n  classifier: \(classifier.checkpoint)\n")
        let summary = try GANTask.kind.train(try ConfigLoader.load(yaml: yaml), options: quiet())
        let fid = try #require(summary.metrics["test_fid"]), floor = try #require(summary.metrics["test_fid_floor"])
        let entropy = try #require(summary.metrics["test_label_entropy"])
        #expect(fid.isFinite && fid >= 0 && floor >= 0 && floor < fid, "FD \(fid), real-vs-real \(floor)")
        #expect(entropy >= 0 && entropy <= log(3) + 1e-9)
        let badLayer = try ConfigLoader.load(yaml: yaml.replacingOccurrences(of: "  samples: 16\n", with: "  samples: 16\n  feature_layer: nope\n"))
        #expect { try GANTask.kind.train(badLayer, options: quiet()) } throws: { ($0 as? ConfigError)?.key == "gan.feature_layer" }
    }

    @Test func theGeneratorsGradientFlowsThroughTheDiscriminator() throws {
        // The discriminator starts with a linear layer, which a classifier's first layer
        // would skip the input gradient of: here G's gradient must match finite differences.
        let data = TinyData()
        defer { data.cleanUp() }
        let loaded = try ConfigLoader.load(yaml: config(data).replacingOccurrences(
            of: "  discriminator:\n    - {kind: flatten}\n",
            with: "  discriminator:\n    - {kind: conv2d, name: conv, out: 2, kernel: 3, padding: 1}\n    - {kind: flatten}\n"))
        let task = try GANTask(TaskContext(loaded: loaded, communicator: LocalCommunicator(), options: quiet()), saved: nil)
        #expect(task.discriminator.children.first?.layer is Conv2D)
        let z = Tensor(shape: [4, 8])
        task.latents([1, 2, 3, 4], salt: 9, into: z)
        let loss = BinaryCrossEntropy(), ones = Tensor(shape: [4, 1])
        ones.fill(1)
        func gLoss() -> Double {
            let y = task.discriminator.forward(task.generator.forward(z, mode: .evaluation), mode: .evaluation)
            return Double(loss.evaluate(y, target: .values(ones), weights: nil, normalizer: 4).loss)
        }
        task.network.zeroGradients()
        let y = task.discriminator.forward(task.generator.forward(z, mode: .evaluation), mode: .evaluation)
        _ = task.generator.backward(task.discriminator.backward(loss.evaluate(y, target: .values(ones), weights: nil, normalizer: 4).gradient))
        let w = try #require(task.generator.parameters.first { $0.name == "generator.fc.weight" })
        for i in [0, 7, 100, 300] {
            let old = w.value[i]
            w.value[i] = old + 1e-2; let up = gLoss()
            w.value[i] = old - 1e-2; let down = gLoss()
            w.value[i] = old
            let numeric = (up - down) / 2e-2
            #expect(abs(numeric - Double(w.gradient[i])) <= 1e-2 * max(abs(numeric), 1e-2), "fc.weight[\(i)]: \(w.gradient[i]) vs \(numeric)")
        }
    }

    @Test func badConfigsNameTheirKey() throws {
        let data = TinyData()
        defer { data.cleanUp() }
        let base = config(data)
        let cases: [(String, String, String)] = [
            ("gan:\n  samples: 16\n", "gan_unused:\n  samples: 16\n", "gan"),
            ("    - {kind: linear, name: out, out: 1}", "    - {kind: linear, name: out, out: 2}", "gan.discriminator"),
            ("    - {kind: linear, name: fc, out: 64}", "    - {kind: linear, name: fc, out: 63}", "model.layers.1"),
            ("optimizer: {kind: adam, lr: 0.002, beta1: 0.5}", "optimizer: {kind: lbfgs}", "train.optimizer.kind"),
            ("  samples: 16", "  samples: 0", "gan.samples"),
        ]
        for (from, to, key) in cases {
            let yaml = base.replacingOccurrences(of: from, with: to)
            #expect(throws: (any Error).self) {
                do { _ = try GANTask.kind.train(try ConfigLoader.load(yaml: yaml), options: quiet()) } catch let e as ConfigError {
                    #expect(e.key == key || e.key.hasPrefix(key), "\(e)")
                    throw e
                }
            }
        }
        // Without a discriminator: its key and line.
        let cut = base.components(separatedBy: "  discriminator:\n")
        let none = cut[0] + "  discriminator: []\n" + cut[1].split(separator: "\n", omittingEmptySubsequences: false)
            .drop { $0.hasPrefix("    -") }.joined(separator: "\n")
        #expect { try GANTask.kind.train(try ConfigLoader.load(yaml: none), options: quiet()) } throws: {
            let e = $0 as? ConfigError
            return e?.key == "gan.discriminator" && e?.line == 21
        }
        let noSection = try ConfigLoader.load(yaml: base.components(separatedBy: "gan:\n")[0] + "train:" + base.components(separatedBy: "train:")[1])
        #expect { try GANTask.kind.train(noSection, options: quiet()) } throws: { ($0 as? ConfigError)?.key == "gan" }
    }

    @Test func partitionedOptimizerStepsEachPartOnItsOwn() throws {
        let g = Parameter(name: "generator.w", value: Tensor(shape: [2], values: [1, 1]))
        let d = Parameter(name: "discriminator.w", value: Tensor(shape: [2], values: [1, 1]))
        g.gradient.fill(1); d.gradient.fill(1)
        let opt = PartitionedOptimizer([("generator.", Adam(learningRate: 0.1)), ("discriminator.", Adam(learningRate: 0.05))])
        opt.step([d])
        #expect(g.value.scalars == [1, 1])
        expectNear(d.value.scalars, [0.95, 0.95])
        opt.step([g])
        expectNear(g.value.scalars, [0.9, 0.9])       // its own first step: bias-corrected as step 1
        opt.learningRate = 0.2                         // a schedule scales both, in proportion
        #expect(opt.parts[1].optimizer.learningRate == 0.1)
        #expect(opt.stateTensors().keys.sorted() == ["discriminator.w.exp_avg", "discriminator.w.exp_avg_sq",
                                                    "generator.w.exp_avg", "generator.w.exp_avg_sq"])
        #expect(throws: OptimizerStateError.unexpectedTensor(name: "other.w.exp_avg", optimizer: opt.kind)) {
            try opt.loadState(["other.w.exp_avg": Tensor(shape: [2])], step: 1, parameters: [g, d])
        }
    }

    func expectNear(_ a: [Float], _ b: [Float], _ tolerance: Float = 1e-5) {
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }, "\(a) vs \(b)")
    }
}
