import Foundation
@testable import PhalanxNN
import Testing

/// Decodes a schedule from JSON text (the shape a YAML config decodes to).
private func decode(_ json: String) throws -> LearningRateSchedule {
    try JSONDecoder().decode(LearningRateSchedule.self, from: Data(json.utf8))
}

@Suite struct ScheduleTests {
    @Test func constantKeepsTheBaseRate() {
        let s = LearningRateSchedule.constant
        #expect(s.rate(at: 0, base: 0.1) == 0.1)
        #expect(s.rate(at: 1_000_000, base: 0.1) == 0.1)
    }

    @Test func stepDecayMultipliesEveryKSteps() {
        // 0.1·0.5^⌊s/10⌋: steps 0–9 → 0.1, 10–19 → 0.05, 25 → 0.025.
        let s = LearningRateSchedule(.step(every: 10, gamma: 0.5))
        let rates = [0, 9, 10, 19, 25].map { s.rate(at: $0, base: 0.1) }
        expectClose(rates, [0.1, 0.1, 0.05, 0.05, 0.025], tolerance: 1e-7, "rates")
    }

    @Test func cosineAnnealsToTheMinimum() {
        // 0.01 + 0.09·(1 + cos(π·s/100))/2: s=0 → 0.1; s=25 → 0.01 + 0.09·0.85355339 = 0.08681981;
        // s=50 → 0.055; s=100 → 0.01; after T it stays at 0.01.
        let s = LearningRateSchedule(.cosine(steps: 100, minimum: 0.01))
        let rates = [0, 25, 50, 100, 150].map { s.rate(at: $0, base: 0.1) }
        expectClose(rates, [0.1, 0.08681981, 0.055, 0.01, 0.01], tolerance: 1e-7, "rates")
    }

    @Test func warmupRisesLinearlyThenHandsOverToTheDecay() {
        // W = 4: base·(s + 1)/4 for s = 0…3, then the cosine from its own step 0 (= step 4):
        // step 54 is cosine step 50 → 0.055.
        let s = LearningRateSchedule(.cosine(steps: 100, minimum: 0.01), warmupSteps: 4)
        let rates = [0, 1, 2, 3, 4, 54].map { s.rate(at: $0, base: 0.1) }
        expectClose(rates, [0.025, 0.05, 0.075, 0.1, 0.1, 0.055], tolerance: 1e-7, "rates")
        // With step decay: W = 5, ×0.1 every 10 → step 14 is decay step 9 (0.1), 15 is 10 (0.01).
        let stepped = LearningRateSchedule(.step(every: 10, gamma: 0.1), warmupSteps: 5)
        expectClose([14, 15].map { stepped.rate(at: $0, base: 0.1) }, [0.1, 0.01], tolerance: 1e-8, "step")
        // Constant with warm-up: 2 steps at 0.5, 1 of base 2 → 1, 2, 2.
        let constant = LearningRateSchedule(.constant, warmupSteps: 2)
        #expect([0, 1, 2].map { constant.rate(at: $0, base: 2) } == [1, 2, 2])
    }

    @Test func decodesTheConfigForm() throws {
        #expect(try decode(#"{"kind": "cosine", "decay_steps": 100, "min_rate": 0.01, "warmup_steps": 4}"#)
                == LearningRateSchedule(.cosine(steps: 100, minimum: 0.01), warmupSteps: 4))
        #expect(try decode(#"{"kind": "step", "step_size": 30}"#) == LearningRateSchedule(.step(every: 30, gamma: 0.1)))
        #expect(try decode(#"{"kind": "cosine", "decay_steps": 10}"#) == LearningRateSchedule(.cosine(steps: 10, minimum: 0)))
        #expect(try decode(#"{"kind": "constant"}"#) == .constant)
    }

    @Test func encodingRoundTrips() throws {
        let schedules = [LearningRateSchedule.constant,
                         LearningRateSchedule(.step(every: 7, gamma: 0.3), warmupSteps: 2),
                         LearningRateSchedule(.cosine(steps: 50, minimum: 0.001), warmupSteps: 10)]
        for s in schedules {
            let data = try JSONEncoder().encode(s)
            #expect(try JSONDecoder().decode(LearningRateSchedule.self, from: data) == s)
        }
        let text = String(decoding: try JSONEncoder().encode(schedules[1]), as: UTF8.self)
        #expect(text.contains(#""step_size":7"#) && text.contains(#""warmup_steps":2"#))
    }

    @Test func invalidConfigsNameTheKey() {
        func failingKey(_ json: String) -> String? {
            do {
                _ = try decode(json)
                return nil
            } catch let DecodingError.dataCorrupted(context) {
                return context.codingPath.last?.stringValue
            } catch let DecodingError.keyNotFound(key, _) {
                return key.stringValue
            } catch {
                return "\(error)"
            }
        }
        #expect(failingKey(#"{"kind": "step"}"#) == "step_size")
        #expect(failingKey(#"{"kind": "step", "step_size": 0}"#) == "step_size")
        #expect(failingKey(#"{"kind": "step", "step_size": 3, "gamma": -1}"#) == "gamma")
        #expect(failingKey(#"{"kind": "cosine", "decay_steps": 5, "min_rate": -0.1}"#) == "min_rate")
        #expect(failingKey(#"{"kind": "constant", "warmup_steps": -2}"#) == "warmup_steps")
        #expect(failingKey(#"{"kind": "linear"}"#) == "kind")
    }
}
