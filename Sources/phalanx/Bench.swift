import ArgumentParser
import CBLAS
import Foundation
import PhalanxAnalysis

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

        @Flag(help: "Check every BLAS/LAPACK routine Phalanx calls under each OpenBLAS kernel set this CPU can run, against a Double reference, cache the verdicts and choose the fastest set that passes (done once automatically).")
        var selfCheck = false

        @Flag(help: .hidden)
        var selfCheckChild = false

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
            if selfCheckChild {
                let encoder = JSONEncoder()
                encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
                FileHandle.standardOutput.write(try encoder.encode(BLASSelfCheck.run()))
                return
            }
            if selfCheck {
                print("machine: \(cpuModel()), \(ProcessInfo.processInfo.activeProcessorCount) cores; \(String(cString: openblas_get_config()))")
                print("BLAS self-check: every routine and shape class Phalanx calls, per kernel set, against Double (worst error as a fraction of the rounding bound)")
                let record = BLASChoice.check(verbose: true)
                print("chosen: \(record.chosen == "default" ? "OpenBLAS's default" : "OPENBLAS_CORETYPE=\(record.chosen)") — cached in \(BLASChoice.cacheURL.path)")
                return
            }
            runKernelBenchmark(KernelBenchSettings(threads: threadCounts!, repeats: repeats,
                                                   minSeconds: seconds, tileFloats: tileFloats,
                                                   gemmSliceLimit: gemmSliceLimit))
        }
    }
}

