import ArgumentParser
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxNN

extension Bench {
    /// `phalanx bench allreduce`: the gradient reducer's bandwidth beside a raw allreduce.
    struct Allreduce: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Allreduce bandwidth of the gradient reducer beside a single in-place MPI_Allreduce, 4 KB to 64 MB.",
            discussion: """
            Run under mpirun, e.g. mpirun --allow-run-as-root -np 2 .build/release/phalanx bench allreduce
            bench/compare-allreduce.sh runs it beside bench/mpi/allreduce.c (plain C MPI_Allreduce) in one job.
            Bandwidth is message bytes / seconds per reduction (algorithm bandwidth), median of the repeats.
            """)

        @Option(help: "Smallest and largest message in bytes (powers of 4 in between).")
        var from = 4096
        @Option(help: "Largest message in bytes.")
        var to = 64 << 20
        @Option(help: "Gradient bucket size in MiB for the reducer rows.")
        var bucketMb = 4.0
        @Option(help: "Timed repeats per size.")
        var repeats = 7

        func run() throws {
            try reportingErrors {
                let world = try World.communicator(forceMPI: true)
                defer { MPICommunicator.finalize() }
                if world.rank == 0 {
                    print("command: \(CommandLine.arguments.joined(separator: " ")) (\(world.size) ranks)")
                    print("       bytes     allreduce GB/s       reducer GB/s reducer/raw")
                }
                var bytes = from
                while bytes <= to {
                    let floats = bytes / 4
                    let raw = UnsafeMutableBufferPointer<Float>.allocate(capacity: floats)
                    raw.initialize(repeating: 1)
                    defer { raw.deallocate() }
                    // The reducer sees the message as 16 parameters (a model's worth of tensors).
                    let pieces = floats >= 16 ? 16 : 1
                    let parameters = (0..<pieces).map { i in
                        Parameter(name: "p\(i)", value: Tensor(shape: [floats / pieces + (i < floats % pieces ? 1 : 0)]))
                    }
                    let reducer = GradientReducer(communicator: try world.split(color: 0, key: world.rank),
                                                  parameters: parameters, bucketBytes: Int(bucketMb * 1_048_576))
                    let iterations = max(3, min(200, (64 << 20) / max(bytes, 1) / 4))
                    func time(_ body: () throws -> Void) throws -> Double {
                        var samples: [Double] = []
                        try body()
                        for _ in 0..<repeats {
                            try world.barrier()
                            let start = DispatchTime.now().uptimeNanoseconds
                            for _ in 0..<iterations { try body() }
                            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(iterations))
                        }
                        // Every rank reports the slowest rank's median.
                        var m = [samples.sorted()[samples.count / 2]]
                        try m.withUnsafeMutableBufferPointer { try world.allreduceMax($0) }
                        return m[0]
                    }
                    let tRaw = try time { try world.allreduceSum(raw) }
                    let tReducer = try time {
                        reducer.ready(parameters.reversed())
                        try reducer.finish()
                    }
                    if world.rank == 0 {
                        let gb = Double(bytes) / 1e9
                        print(String(format: "%12d %18.2f %18.2f %10.2f", bytes, gb / tRaw, gb / tReducer, tRaw / tReducer))
                    }
                    bytes *= 4
                }
            }
        }
    }
}
