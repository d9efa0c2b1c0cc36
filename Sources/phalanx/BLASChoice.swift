// Which OpenBLAS kernels Phalanx runs: the fastest kernel set that passes the BLAS
// self-check on this CPU, found once and cached.
//
// OpenBLAS reads OPENBLAS_CORETYPE when the library loads, before main, so a different
// choice means starting again: `apply()` sets the variable and execs the same binary
// with the same arguments (once; PHALANX_BLAS_CHOSEN marks the second start). A
// kernel set named by the user in OPENBLAS_CORETYPE is kept as it is; one that
// launch/blas-env only suggested (it sets PHALANX_BLAS_SUGGESTED to the same name)
// yields to the self-check's choice.
//
// The check (`phalanx bench kernels --self-check`) runs each candidate in a child
// process — a kernel set the CPU cannot execute dies there, not here — and caches the
// verdicts in $XDG_CACHE_HOME/phalanx (or ~/.cache/phalanx), keyed by the CPU, its
// flags and the OpenBLAS build. Under mpirun with no cache, ranks keep the default
// kernels and say how to make the cache; PHALANX_BLAS_SELFCHECK=0 turns all this off.
import CBLAS
import Foundation
import PhalanxAnalysis
import PhalanxCore

/// One candidate's verdict.
struct BLASCandidate: Codable {
    /// The OPENBLAS_CORETYPE value, or "default" (OpenBLAS's own choice).
    var coreType: String
    /// The kernels OpenBLAS then ran, the checks that failed, sgemm 512³ GFLOPS; `error`
    /// when the child died or printed nothing.
    var core: String?
    var failures: [String]
    var worst: Double?
    var sgemmGFLOPS: Double?
    var error: String?
    var passed: Bool { error == nil && failures.isEmpty }
}

/// The cached result for one machine.
struct BLASChoiceRecord: Codable {
    var key: String
    var date: String
    var candidates: [BLASCandidate]
    /// The chosen OPENBLAS_CORETYPE ("default": leave it unset).
    var chosen: String
}

enum BLASChoice {
    /// Bumped when the checks change, so old verdicts are not trusted.
    static let checkVersion = 1

    static var cacheURL: URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache")
        return base.appendingPathComponent("phalanx").appendingPathComponent("blas-kernels.json")
    }

    /// CPU model, flags, OpenBLAS build and check version.
    static var machineKey: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in CPUInfo.flagsLine.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "\(CPUInfo.modelName ?? "?") | flags \(String(hash, radix: 16)) | "
            + "\(buildConfig) | check v\(checkVersion)"
    }

    /// OpenBLAS's build string without the name of the kernels that happen to be loaded
    /// (it includes them), so every process on the machine finds the same record.
    static var buildConfig: String {
        String(cString: openblas_get_config()).replacingOccurrences(of: " \(BLAS.coreName)", with: "")
    }

    /// OPENBLAS_CORETYPE values worth trying on this CPU: OpenBLAS's default and the
    /// kernel sets whose instructions the CPU has.
    static var candidates: [String] {
        let flags = CPUInfo.flags
        var out = ["default"]
        if flags.isSuperset(of: ["avx2", "fma"]) { out += ["Haswell", "Zen"] }
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"]) { out.append("SkylakeX") }
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512_bf16"]) { out.append("Cooperlake") }
        if flags.isSuperset(of: ["avx512_fp16", "amx_bf16"]) { out.append("SapphireRapids") }
        return out
    }

    static func load() -> BLASChoiceRecord? {
        guard let data = try? Data(contentsOf: cacheURL),
              let record = try? JSONDecoder().decode(BLASChoiceRecord.self, from: data),
              record.key == machineKey else { return nil }
        return record
    }

    /// Checks every candidate in a child process, prints a table (when `verbose`), caches
    /// the verdicts and returns them.
    @discardableResult
    static func check(verbose: Bool) -> BLASChoiceRecord {
        var results: [BLASCandidate] = []
        for candidate in candidates {
            let r = runChild(candidate)
            results.append(r)
            if verbose {
                let verdict = r.error ?? (r.failures.isEmpty ? "pass" : "FAIL: \(r.failures.prefix(3).joined(separator: "; "))")
                print("  \(candidate.padding(toLength: 15, withPad: " ", startingAt: 0)) kernels \((r.core ?? "?").padding(toLength: 15, withPad: " ", startingAt: 0))"
                      + (r.sgemmGFLOPS.map { String(format: " sgemm 512³ %6.1f GFLOPS", $0) } ?? String(repeating: " ", count: 25))
                      + (r.worst.map { String(format: "  worst %.3g of the bound", $0) } ?? "") + "  \(verdict)")
            }
        }
        // The fastest that passes; OpenBLAS's default unless another is 5 % faster.
        let passing = results.filter(\.passed)
        let def = passing.first { $0.coreType == "default" }
        var chosen = passing.max { ($0.sgemmGFLOPS ?? 0) < ($1.sgemmGFLOPS ?? 0) }
        if let d = def, let c = chosen, (c.sgemmGFLOPS ?? 0) < 1.05 * (d.sgemmGFLOPS ?? 0) { chosen = d }
        let record = BLASChoiceRecord(key: machineKey, date: ISO8601DateFormatter().string(from: Date()),
                                      candidates: results, chosen: chosen?.coreType ?? "default")
        let url = cacheURL
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let tmp = url.appendingPathExtension("tmp-\(getpid())")
            try encoder.encode(record).write(to: tmp)
            _ = rename(tmp.path, url.path)
        } catch {
            FileHandle.standardError.write(Data("phalanx: note: could not cache the BLAS self-check in \(url.path): \(error.localizedDescription)\n".utf8))
        }
        return record
    }

    /// `phalanx bench kernels --self-check-child` under OPENBLAS_CORETYPE=candidate.
    private static func runChild(_ candidate: String) -> BLASCandidate {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        p.arguments = ["bench", "kernels", "--self-check-child"]
        var env = ProcessInfo.processInfo.environment
        env["PHALANX_BLAS_CHOSEN"] = candidate
        if candidate == "default" { env.removeValue(forKey: "OPENBLAS_CORETYPE") } else { env["OPENBLAS_CORETYPE"] = candidate }
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        var result = BLASCandidate(coreType: candidate, failures: [])
        do { try p.run() } catch {
            result.error = "could not start: \(error.localizedDescription)"
            return result
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationReason == .uncaughtSignal {
            result.error = "died (signal \(p.terminationStatus))"
        } else if let report = try? JSONDecoder().decode(BLASSelfCheckReport.self, from: data) {
            result.core = report.core
            result.failures = report.failures
            result.worst = report.checks.map(\.worst).max()
            result.sgemmGFLOPS = report.sgemmGFLOPS
        } else {
            result.error = "no report (exit \(p.terminationStatus))"
        }
        return result
    }

    /// At start-up: runs under the cached choice, checking first where there is none.
    static func apply() {
        let env = ProcessInfo.processInfo.environment
        if env["PHALANX_BLAS_CHOSEN"] != nil || env["PHALANX_BLAS_SELFCHECK"] == "0" { return }
        if let user = env["OPENBLAS_CORETYPE"], user != env["PHALANX_BLAS_SUGGESTED"] { return }
        let args = CommandLine.arguments
        if args.contains("--self-check") || args.contains("--self-check-child") { return }
        if args.count < 2 || args[1].hasPrefix("-") || args.contains("--help") || args.contains("-h") { return }
        var record = load()
        if record == nil {
            let ranks = Int(env["OMPI_COMM_WORLD_SIZE"] ?? env["PMI_SIZE"] ?? env["SLURM_NTASKS"] ?? "1") ?? 1
            if ranks > 1 {
                if (env["OMPI_COMM_WORLD_RANK"] ?? env["PMI_RANK"] ?? "0") == "0" {
                    FileHandle.standardError.write(Data(("phalanx: note: OpenBLAS's kernels are not self-checked on this machine yet; "
                        + "run `phalanx bench kernels --self-check` once (outside mpirun) to choose the fastest correct ones\n").utf8))
                }
                return
            }
            FileHandle.standardError.write(Data("phalanx: checking OpenBLAS's kernel sets on this CPU (once; cached in \(cacheURL.path))\n".utf8))
            record = check(verbose: false)
        }
        guard let record else { return }
        let wanted = record.chosen
        setenv("PHALANX_BLAS_CHOSEN", wanted, 1)
        let current = env["OPENBLAS_CORETYPE"] ?? "default"
        guard wanted.lowercased() != current.lowercased() else { return }
        if wanted == "default" { unsetenv("OPENBLAS_CORETYPE") } else { setenv("OPENBLAS_CORETYPE", wanted, 1) }
        // Start again under the chosen kernels (OpenBLAS picked its own at load).
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        // execv returned: stay on the kernels already loaded.
        FileHandle.standardError.write(Data("phalanx: note: could not restart under OPENBLAS_CORETYPE=\(wanted); keeping \(BLAS.coreName)\n".utf8))
        setenv("PHALANX_BLAS_CHOSEN", current, 1)
    }

    /// How this process's kernels were chosen, for the `machine:` line.
    static var provenance: String {
        let env = ProcessInfo.processInfo.environment
        if let record = load() {
            let mine = record.candidates.first { ($0.core ?? "").lowercased() == BLAS.coreName.lowercased() }
            let verdict = mine.map { $0.passed ? "self-check passed" : "self-check FAILED: \($0.failures.first ?? $0.error ?? "")" } ?? "not among the checked sets"
            return "\(verdict); chosen \(record.chosen) (\(cacheURL.path), \(record.date))"
        }
        if env["OPENBLAS_CORETYPE"] != nil { return "OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"]!), not self-checked" }
        return "not self-checked (phalanx bench kernels --self-check)"
    }
}
