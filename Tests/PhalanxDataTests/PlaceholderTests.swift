import Testing
@testable import PhalanxData

@Test func dataModuleLinks() { #expect(Bool(true)) }
