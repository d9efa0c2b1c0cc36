import Testing
@testable import PhalanxTraining

@Test func trainingModuleLinks() { #expect(Bool(true)) }
