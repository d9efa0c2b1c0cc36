// `phalanx bench kernels`: Conv2D GFLOPS measured against raw OpenBLAS sgemm.
//
// For each thread count t it times cblas_sgemm at M = N = K = 1024 with OpenBLAS on t
// threads, then Conv2D forward and forward+backward with Parallel.threads = t (OpenBLAS
// back on one thread, as Phalanx runs it), and prints each conv figure as a fraction
// of the sgemm figure of the same t. FLOPs: forward 2·N·Cout·(Cin/g)·kh·kw·outH·outW,
// backward twice that (dW and dX); bias, im2col and col2im are not counted.
import Foundation
import PhalanxCore
import PhalanxNN
import CBLAS
import CKernels

/// What `phalanx bench kernels` measures and for how long.
struct KernelBenchSettings {
    var threads: [Int]
    var repeats: Int
    var minSeconds: Double
    var tileFloats: Int?
    var gemmSliceLimit: Int?
}

/// A convolution layer shape to time.
struct ConvBenchCase {
    var label: String
    var batch: Int, inChannels: Int, outChannels: Int, height: Int, width: Int
    var kernel: Int, padding: Int, groups = 1

    var outH: Int { height + 2 * padding - kernel + 1 }
    var outW: Int { width + 2 * padding - kernel + 1 }
    var forwardFLOPs: Double {
        2 * Double(batch * outChannels * (inChannels / groups) * kernel * kernel * outH * outW)
    }
}

/// Seconds per call of `body`: median and best of `repeats`, each timing enough calls
/// to last `minSeconds`, after a warm-up.
func timeCalls(repeats: Int, minSeconds: Double, _ body: () -> Void) -> (median: Double, best: Double) {
    func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
    var start = now()
    var calls = 0
    while calls < 2 || now() - start < 0.1 { body(); calls += 1 }       // warm-up
    let perCall = (now() - start) / Double(calls)
    let iterations = max(1, Int((minSeconds / perCall).rounded(.up)))
    var samples: [Double] = []
    for _ in 0..<repeats {
        start = now()
        for _ in 0..<iterations { body() }
        samples.append((now() - start) / Double(iterations))
    }
    samples.sort()
    return (samples[samples.count / 2], samples[0])
}

func runKernelBenchmark(_ s: KernelBenchSettings) {
    let cases = [
        ConvBenchCase(label: "(a) LeNet conv2 6→16 5×5, 14×14, pad 0, N 64",
                      batch: 64, inChannels: 6, outChannels: 16, height: 14, width: 14, kernel: 5, padding: 0),
        ConvBenchCase(label: "(b) 3×3 32→32, 28×28, pad 1, N 64",
                      batch: 64, inChannels: 32, outChannels: 32, height: 28, width: 28, kernel: 3, padding: 1),
    ]
    let env = ProcessInfo.processInfo.environment
    let settings = ["OPENBLAS_CORETYPE", "PHALANX_THREADS"].compactMap { k in env[k].map { "\(k)=\($0) " } }
    print("command: \(settings.joined())\(CommandLine.arguments.joined(separator: " "))")
    #if DEBUG
    print("WARNING: debug build; figures are meaningless. Use swift run -c release phalanx bench kernels")
    #endif
    print("machine: \(cpuModel()), \(ProcessInfo.processInfo.activeProcessorCount) cores; \(String(cString: openblas_get_config())) (kernels: \(BLAS.coreName); \(BLASChoice.provenance))")
    if let better = BLAS.suggestedCoreType {
        print("NOTE: OpenBLAS chose its \(BLAS.coreName) kernels for this CPU; OPENBLAS_CORETYPE=\(better) selects faster ones")
    }
    print("load average at start: \(loadAverage())")
    print("timing: median of \(s.repeats) repeats (best in brackets), each ≥ \(s.minSeconds) s of calls after a warm-up")
    print("")

    var rows: [(String, [String])] = [("FMA peak (\(SIMDLevel.current), \(phx_simd_lanes()) lanes, 12 chains)", []), ("sgemm 1024³", [])]
    for c in cases {
        rows.append(("\(c.label): forward", []))
        rows.append(("\(c.label): forward+backward", []))
    }
    let savedThreads = Parallel.threads
    for t in s.threads {
        // Raw sgemm with OpenBLAS's own threads.
        BLAS.setOpenBLASThreads(t)
        let gemm = sgemmGFLOPS(s)
        BLAS.setOpenBLASThreads(1)
        Parallel.threads = t
        let peak = fmaPeakGFLOPS(s, threads: t)
        rows[0].1.append(String(format: "%.1f [%.1f] | sgemm: %.0f %%", peak.median, peak.best, 100 * gemm.median / peak.median))
        rows[1].1.append(String(format: "%.1f [%.1f]", gemm.median, gemm.best))
        for (i, c) in cases.enumerated() {
            let (fwd, full) = convGFLOPS(c, s)
            rows[2 + 2 * i].1.append(String(format: "%.1f [%.1f] | %.0f %%", fwd.median, fwd.best, 100 * fwd.median / gemm.median))
            rows[3 + 2 * i].1.append(String(format: "%.1f [%.1f] | %.0f %%", full.median, full.best, 100 * full.median / gemm.median))
        }
    }
    Parallel.threads = savedThreads

    let header = s.threads.map { "\($0) thread\($0 == 1 ? "" : "s"): GFLOPS | of sgemm" }
    print("| measurement | " + header.joined(separator: " | ") + " |")
    print("|---|" + String(repeating: "---:|---:|", count: s.threads.count))
    for (label, cells) in rows {
        let padded = label.hasPrefix("sgemm") ? cells.map { $0 + " | 100 %" } : cells
        print("| \(label) | " + padded.joined(separator: " | ") + " |")
    }
    print("")
    print("load average at end: \(loadAverage())")
}

/// The FMA peak of `threads` cores: each runs 12 independent chains of vector fused
/// multiply-adds at Phalanx's SIMD level (phx_fma_peak), 24 · lanes flops per iteration.
func fmaPeakGFLOPS(_ s: KernelBenchSettings, threads: Int) -> (median: Double, best: Double) {
    let iterations = 2_000_000
    let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
    defer { sink.deallocate() }
    let t = timeCalls(repeats: s.repeats, minSeconds: s.minSeconds) {
        Parallel.forChunks(threads) { chunk, _ in sink[chunk] = phx_fma_peak(iterations) }
    }
    let flops = Double(threads) * 24 * Double(phx_simd_lanes()) * Double(iterations)
    return (flops / t.median * 1e-9, flops / t.best * 1e-9)
}

/// sgemm GFLOPS at M = N = K = 1024 on OpenBLAS's current thread count.
func sgemmGFLOPS(_ s: KernelBenchSettings) -> (median: Double, best: Double) {
    let n = 1024
    var rng = RNG(seed: 1)
    let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
    rng.fillUniform(a, -1, 1)
    rng.fillUniform(b, -1, 1)
    let t = timeCalls(repeats: s.repeats, minSeconds: s.minSeconds) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n),
                    1, a.data, Int32(n), b.data, Int32(n), 0, c.data, Int32(n))
    }
    let flops = 2 * Double(n * n * n)
    return (flops / t.median * 1e-9, flops / t.best * 1e-9)
}

/// Conv2D forward and forward+backward GFLOPS on `Parallel.threads`.
func convGFLOPS(_ c: ConvBenchCase, _ s: KernelBenchSettings)
    -> (forward: (median: Double, best: Double), full: (median: Double, best: Double)) {
    var rng = RNG(seed: 2)
    let conv = try! Conv2D(inChannels: c.inChannels, outChannels: c.outChannels, kernel: c.kernel,
                           padding: c.padding, groups: c.groups, rng: &rng)
    if let f = s.tileFloats { conv.tileFloats = f }
    if let l = s.gemmSliceLimit { conv.gemmSliceLimit = l }
    let x = Tensor(shape: [c.batch, c.inChannels, c.height, c.width])
    rng.fillUniform(x, -1, 1)
    let dy = Tensor(shape: [c.batch, c.outChannels, c.outH, c.outW])
    rng.fillUniform(dy, -1, 1)
    let fwd = timeCalls(repeats: s.repeats, minSeconds: s.minSeconds) {
        _ = conv.forward(x, mode: .training)
    }
    let full = timeCalls(repeats: s.repeats, minSeconds: s.minSeconds) {
        _ = conv.forward(x, mode: .training)
        _ = conv.backward(dy)
    }
    let f = c.forwardFLOPs * 1e-9
    return ((f / fwd.median, f / fwd.best), (3 * f / full.median, 3 * f / full.best))
}

func cpuModel() -> String { CPUInfo.modelName ?? "unknown CPU" }

private func loadAverage() -> String {
    let s = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return s.split(separator: " ").prefix(3).joined(separator: " ")
}
