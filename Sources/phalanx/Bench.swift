import ArgumentParser
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure kernels against their references.",
        subcommands: [Kernels.self, Model.self, Allreduce.self]
    )
}

extension Bench {
    /// `phalanx bench kernels`: raw sgemm beside Conv2D, on each thread count.
    struct Kernels: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Raw OpenBLAS sgemm GFLOPS beside Conv2D forward and forward+backward GFLOPS.",
            discussion: "Build in release: swift run -c release phalanx bench kernels")

        @Option(help: "Comma-separated thread counts, for OpenBLAS (sgemm) and Parallel.threads (Conv2D).")
        var threads = "1,2"

        @Option(help: "Timed repeats per figure; the median is reported, the best beside it.")
        var repeats = 5

        @Option(help: "Minimum seconds of iterations in one repeat.")
        var seconds = 0.5

        @Option(help: "Override Conv2D.tileFloats (floats in one thread's im2col tile).")
        var tileFloats: Int?

        @Option(help: "Override Conv2D.gemmSliceLimit (multiply-adds per GEMM slice; 0: no slicing).")
        var gemmSliceLimit: Int?

        func validate() throws {
            guard let t = threadCounts, !t.isEmpty, t.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("--threads must be positive integers separated by commas, got '\(threads)'")
            }
            guard repeats > 0, seconds > 0 else { throw ValidationError("--repeats and --seconds must be positive") }
            if let f = tileFloats, f <= 0 { throw ValidationError("--tile-floats must be positive") }
            if let l = gemmSliceLimit, l < 0 { throw ValidationError("--gemm-slice-limit must not be negative") }
        }

        private var threadCounts: [Int]? {
            let parts = threads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            return parts.contains(nil) ? nil : parts.compactMap { $0 }
        }

        func run() throws {
            runKernelBenchmark(KernelBenchSettings(threads: threadCounts!, repeats: repeats,
                                                   minSeconds: seconds, tileFloats: tileFloats,
                                                   gemmSliceLimit: gemmSliceLimit))
        }
    }
}

