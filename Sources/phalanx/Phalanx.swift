import ArgumentParser
import PhalanxCore

@main
struct Phalanx: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phalanx",
        abstract: "Data-parallel deep-learning trainer for CPU clusters.",
        subcommands: [Bench.self]
    )
}
