// A layer kind is one registry entry: registered, it builds from a config, takes only
// its keys, and is walked like any other layer.
import PhalanxNN
import Testing
@testable import PhalanxTraining

@Suite struct LayerRegistryTests {
    @Test func aRegisteredKindBuildsFromTheConfigAndChecksItsKeys() throws {
        LayerRegistry.register(LayerKind("leaky_fixed", keys: ["slope"]) { _, site in
            LeakyReLU(slope: site.spec.slope ?? 0.2)
        })
        func model(_ layer: String) throws -> ModelConfig {
            try ConfigLoader.load(yaml: """
                model:
                  input: [4]
                  layers:
                    - {kind: linear, out: 3}
                    - \(layer)
                """).config.model
        }
        let built = try ModelBuilder.build(try model("{kind: leaky_fixed, slope: 0.5}"), seed: 1)
        let layer = try #require(built.network.children[1].layer as? LeakyReLU)
        #expect(layer.slope == 0.5 && built.outputShape == [3])
        #expect(built.network.children.map(\.name) == ["linear1", "leaky_fixed1"])
        #expect { try ModelBuilder.build(try model("{kind: leaky_fixed, out: 2}"), seed: 1) } throws: {
            ($0 as? ConfigError)?.key == "model.layers.1.out" && "\($0)".contains("does not apply to a leaky_fixed layer")
        }
        #expect { try ModelBuilder.build(try model("{kind: leaky_fxd}"), seed: 1) } throws: {
            "\($0)".contains("unknown layer kind 'leaky_fxd'") && "\($0)".contains("leaky_fixed")
        }
        // Trees are walked through `sublayers`, whatever the containers.
        #expect(allLayers(of: built.network).count == 3)
    }
}
