// Fuzz targets for the parsers a user's files reach: configs (YAML → config → task and
// its keys), IDX data files, safetensors, and trainer.json. An input may make a parser
// throw — that is its job; a crash, a hang or a runaway allocation is a finding.
//
// Built with libFuzzer (coverage-guided) by bench/fuzz.sh:
//   swift build -c release --product phalanx-fuzz --scratch-path .build-fuzz \
//       -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
//   PHALANX_FUZZ=config .build-fuzz/release/phalanx-fuzz Tests/Fuzz/corpus/config -max_total_time=60
// Built plainly (`swift build`), the same binary replays files given as arguments
// through every target, which is what the test suite does with the committed corpus.
import Foundation
import PhalanxData
import PhalanxTraining

enum FuzzTarget: String, CaseIterable {
    case config, idx, safetensors, trainer
}

/// A scratch directory of this process in memory (/dev/shm) or the temporary directory.
let scratch: String = {
    let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let dir = base + "/phalanx-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}()

/// Runs one input through one parser; every error is expected, nothing else is.
func fuzzOne(_ bytes: [UInt8], _ target: FuzzTarget) {
    switch target {
    case .config:
        guard let text = String(bytes: bytes, encoding: .utf8) else { return }
        if let loaded = try? ConfigLoader.load(yaml: text, file: "fuzz.yaml") {
            _ = try? TaskRegistry.kind(of: loaded)
            _ = loaded.config.hash
        }
    case .idx:
        let path = scratch + "/input.idx"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        _ = try? IDX.readImages(path)
        _ = try? IDX.readLabels(path, classCount: 10)
    case .safetensors:
        if let st = try? SafeTensors(bytes: bytes, file: "fuzz.safetensors") { _ = try? st.serialized(file: "fuzz") }
    case .trainer:
        let dir = URL(fileURLWithPath: scratch + "/checkpoint")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: dir.appendingPathComponent(CheckpointLayout.trainer).path,
                                             contents: Data(bytes)) else { return }
        _ = try? Checkpoint<TaskCheckpointState<ClassificationTask.State>>.load(from: dir)
        _ = try? Checkpoint<TrainerState>.load(from: dir)
        _ = try? Checkpoint<LanguageModelState>.load(from: dir)
        _ = try? TaskRegistry.kind(ofCheckpoint: dir)
        _ = try? CheckpointSummary.inspect(dir)
    }
}

#if FUZZING
let fuzzTarget: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["PHALANX_FUZZ"], let t = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("PHALANX_FUZZ must be one of \(FuzzTarget.allCases.map(\.rawValue))\n".utf8))
        exit(2)
    }
    return t
}()

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// libFuzzer's driver, started from the executable's own entry point (SwiftPM names the
/// entry point itself, so libFuzzer's `main` is not linked).
@main
struct FuzzMain {
    static func main() {
        _ = fuzzTarget
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            fuzzOne(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [], fuzzTarget)
            return 0
        })
    }
}
#else
@main
struct Replay {
    /// `phalanx-fuzz FILE|DIR…`: every file through the target its folder is named after
    /// (`corpus/idx/…`), or through all targets.
    static func main() {
        var files: [(String, [FuzzTarget])] = []
        for arg in CommandLine.arguments.dropFirst() {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: arg, isDirectory: &isDir) else { continue }
            let paths = isDir.boolValue
                ? (FileManager.default.enumerator(atPath: arg)?.compactMap { $0 as? String }.map { arg + "/" + $0 } ?? [])
                : [arg]
            for p in paths {
                var d: ObjCBool = false
                guard FileManager.default.fileExists(atPath: p, isDirectory: &d), !d.boolValue else { continue }
                let folder = URL(fileURLWithPath: p).deletingLastPathComponent().lastPathComponent
                files.append((p, FuzzTarget(rawValue: folder).map { [$0] } ?? FuzzTarget.allCases))
            }
        }
        for (path, targets) in files {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            for t in targets { fuzzOne(Array(data), t) }
        }
        print("phalanx-fuzz: replayed \(files.count) inputs, no crash")
        try? FileManager.default.removeItem(atPath: scratch)
    }
}
#endif
