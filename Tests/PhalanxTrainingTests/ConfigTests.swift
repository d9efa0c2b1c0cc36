import Testing
@testable import PhalanxTraining

@Suite struct ConfigTests {
    let good = """
    name: tiny
    seed: 3
    model:
      input: [1, 4, 4]
      layers:
        - kind: flatten
        - kind: linear
          out: 10
    train:
      epochs: 2
      batch_size: 32
      optimizer:
        kind: sgd
        lr: 0.1
        momentum: 0.9
    """

    @Test func decodesWithDefaults() throws {
        let c = try ConfigLoader.load(yaml: good).config
        #expect(c.name == "tiny" && c.seed == 3)
        #expect(c.train.epochs == 2 && c.train.batchSize == 32 && c.train.dropLast)
        #expect(c.train.optimizer.momentum == 0.9 && c.train.optimizer.beta2 == 0.999)
        #expect(c.model.layers.map(\.kind) == ["flatten", "linear"] && c.model.layers[1].out == 10)
        #expect(c.data.dataset == "fashion-mnist" && c.checkpoint.keep == 3)
    }

    @Test func unknownKeyNamesKeyAndLine() {
        let bad = good.replacingOccurrences(of: "    lr: 0.1", with: "    lerning_rate: 0.1")
        #expect {
            try ConfigLoader.load(yaml: bad, file: "x.yaml")
        } throws: { error in
            let e = error as! ConfigError
            return e.key == "train.optimizer.lerning_rate" && e.line == 14 && e.file == "x.yaml"
                && e.description == "x.yaml:14: key 'train.optimizer.lerning_rate': unknown key"
        }
    }

    @Test func unknownKeyInsideALayer() {
        let bad = good.replacingOccurrences(of: "      out: 10", with: "      outs: 10")
        #expect {
            try ConfigLoader.load(yaml: bad)
        } throws: { error in
            let e = error as! ConfigError
            return e.key == "model.layers.1.outs" && e.line == 8
        }
    }

    @Test func wrongTypeNamesKeyAndLine() {
        let bad = good.replacingOccurrences(of: "epochs: 2", with: "epochs: two")
        #expect {
            try ConfigLoader.load(yaml: bad)
        } throws: { error in
            let e = error as! ConfigError
            return e.key == "train.epochs" && e.line == 10 && e.message.contains("integer")
        }
    }

    @Test func missingModelIsNamed() {
        #expect {
            try ConfigLoader.load(yaml: "name: x\n")
        } throws: { error in
            (error as! ConfigError).key == "model"
        }
    }

    @Test func overridesSetAnyValue() throws {
        let c = try ConfigLoader.load(yaml: good, overrides: [
            "train.epochs=5", "train.optimizer.kind=adam", "model.layers.1.out=7", "data.horizontal_flip=true",
            "train.schedule.kind=cosine",
        ]).config
        #expect(c.train.epochs == 5 && c.train.optimizer.kind == "adam")
        #expect(c.model.layers[1].out == 7 && c.data.horizontalFlip && c.train.schedule.kind == "cosine")
    }

    @Test func badOverridesAreErrors() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: good, overrides: ["train.epochs"]) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: good, overrides: ["model.layers.9.out=3"]) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: good, overrides: ["train.lr=3"]) }
    }

    @Test func invalidYAMLIsAnError() {
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: "model: [1, 2\n") }
    }

    @Test func kernelTakesIntOrPair() throws {
        let text = good.replacingOccurrences(of: "      out: 10", with: "      out: 10\n    - kind: conv2d\n      kernel: [3, 5]\n      stride: 2")
        let c = try ConfigLoader.load(yaml: text).config
        #expect(c.model.layers[2].kernel == IntPair(3, 5) && c.model.layers[2].stride == IntPair(2, 2))
    }
}
