// Checks that need several processes, run by launch/test as
//   mpirun -np 2 .build/release/phalanx-mpi-checks
// Every assertion holds at any world size (1 included). Each rank prints its failures;
// the exit status is 0 only when no rank failed.
import Foundation
import PhalanxCoordinator
import PhalanxCore
import PhalanxData
import PhalanxDistributed
import PhalanxNN
import PhalanxTestSupport
import PhalanxTraining

@main
struct MPIChecks {
    static func main() {
        let world: Communicator
        do {
            world = try World.communicator(forceMPI: true)
        } catch {
            print("phalanx-mpi-checks: \(error)")
            exit(2)
        }
        var failures: [String] = []
        let checks: [(String, (Communicator) throws -> [String])] = [
            ("collectives", collectives),
            ("gradient reducer", reducer),
            ("LeNet, 50 steps of 128: N ranks = 1 process", { try equivalence($0, .lenet) }),
            ("uneven last batch (drop_last: false)", { try equivalence($0, .uneven) }),
            ("sync batch norm: N ranks = 1 process", { try equivalence($0, .syncBatchNorm) }),
            ("char LM and encoder–decoder: N ranks = 1 process", sequences),
            ("a task in one file (regression): N ranks = 1 process", regressionTask),
            ("denoising sparse autoencoder: N ranks = 1 process", autoencoder),
            ("full-batch L-BFGS, resumed: N ranks = 1 process", lbfgs),
            ("GAN, two optimizers, resumed: N ranks = 1 process", gan),
            ("analyze: features, PCA, k-means, GMM: N ranks = 1 process", analysis),
            ("ranks that disagree stop with one message", disagreement),
            ("bagged ensemble in rank groups = members trained alone", ensemble),
        ]
        // Arguments, if any, pick the checks whose names contain one of them.
        let picked = CommandLine.arguments.dropFirst()
        for (name, check) in checks where picked.isEmpty || picked.contains(where: { name.contains($0) }) {
            let start = Date()
            var found: [String]
            do { found = try check(world) } catch { found = ["threw: \(error)"] }
            failures += found.map { "\(name): \($0)" }
            let bad = (try? world.allreduceSum([Double(found.count)]))?[0] ?? 1
            if world.rank == 0 {
                print(String(format: "%@ %@ (%.1f s)", bad == 0 ? "ok  " : "FAIL", name, Date().timeIntervalSince(start)))
            }
        }
        for f in failures { print("rank \(world.rank): FAIL \(f)") }
        let total = (try? world.allreduceSum([Double(failures.count)]))?[0] ?? 1
        if world.rank == 0 { print("phalanx-mpi-checks: \(checks.count) checks on \(world.size) ranks, \(Int(total)) failures") }
        MPICommunicator.finalize()
        exit(total == 0 ? 0 : 1)
    }

    // MARK: Collectives

    static func collectives(_ world: Communicator) throws -> [String] {
        var bad: [String] = []
        let r = world.rank, n = world.size
        var f = (0..<1000).map { Float(r + 1) + Float($0) }
        try f.withUnsafeMutableBufferPointer { try world.allreduceSum($0) }
        let triangle = Float(n * (n + 1) / 2)
        if f.enumerated().contains(where: { $0.element != triangle + Float(n * $0.offset) }) { bad.append("float allreduce sum") }
        var m = [Double(r), -Double(r)]
        try m.withUnsafeMutableBufferPointer { try world.allreduceMax($0) }
        if m != [Double(n - 1), 0] { bad.append("double allreduce max gave \(m)") }
        let text = try world.broadcast(world.rank == n - 1 ? "hello from rank \(n - 1)" : "", root: n - 1)
        if text != "hello from rank \(n - 1)" { bad.append("broadcast gave '\(text)'") }
        let gathered = try world.allgather([UInt8](repeating: UInt8(r), count: r + 1))
        if gathered != (0..<n).map({ [UInt8](repeating: UInt8($0), count: $0 + 1) }) { bad.append("allgather") }
        let sub = try world.split(color: r % 2, key: -r)
        let members = (0..<n).filter { $0 % 2 == r % 2 }
        if sub.size != members.count { bad.append("split size \(sub.size), expected \(members.count)") }
        if sub.rank != members.reversed().firstIndex(of: r) { bad.append("split rank \(sub.rank) ignores the key") }
        let s = try sub.allreduceSum([Double(r)])
        if s[0] != Double(members.reduce(0, +)) { bad.append("allreduce inside a split") }
        try world.barrier()
        return bad
    }

    // MARK: Gradient reducer

    static func reducer(_ world: Communicator) throws -> [String] {
        var bad: [String] = []
        let sizes = [1000, 10, 300_000, 7, 4096]
        let parameters = sizes.enumerated().map { Parameter(name: "p\($0.offset)", value: Tensor(shape: [$0.element])) }
        func value(_ rank: Int, _ p: Int, _ i: Int, _ step: Int) -> Float { Float((rank + 1) * (p + 1) + step) + Float(i % 97) / 8 }
        for overlap in [true, false] {
            let r = GradientReducer(communicator: try world.split(color: 0, key: world.rank), parameters: parameters,
                                    bucketBytes: 16 << 10, overlap: overlap)
            if r.bucketCount < 3 { bad.append("expected several buckets, got \(r.bucketCount)") }
            for step in 0..<3 {
                for (k, p) in parameters.enumerated() {
                    for i in 0..<p.gradient.count { p.gradient[i] = value(world.rank, k, i, step) }
                }
                // Backward finishes the last parameters first; one is never reported.
                for p in parameters.reversed().dropLast() { r.ready([p]) }
                try r.finish()
                for (k, p) in parameters.enumerated() {
                    for i in Swift.stride(from: 0, to: p.gradient.count, by: 13) {
                        let expected = (0..<world.size).reduce(Float(0)) { $0 + value($1, k, i, step) }
                        if abs(p.gradient[i] - expected) > 1e-3 * abs(expected) {
                            bad.append("overlap \(overlap) step \(step) \(p.name)[\(i)] = \(p.gradient[i]), expected \(expected)")
                            break
                        }
                    }
                }
            }
        }
        return bad
    }

    // MARK: Training equivalence

    enum Scenario { case lenet, uneven, syncBatchNorm }

    /// Generated 28×28 images, 10 classes (a bright band whose position is the class),
    /// written by rank 0 into a directory every rank then reads (the ranks of these checks
    /// share one machine); every rank's config names the same files.
    static func writeData(_ world: Communicator, train: Int, test: Int) throws -> String {
        let dir = try world.broadcast(
            (NSTemporaryDirectory() as NSString).appendingPathComponent("phalanx-mpi-\(UUID().uuidString)"), root: 0)
        defer { try? world.barrier() }
        guard world.rank == 0 else { return dir }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var images = BandImages(side: 28, seed: 3, label: { ($0 * 7) % 10 }, band: { $0 / 3 }, bright: 120, dark: 30, noise: 120)
        try images.write(train: train, test: test, to: dir)
        return dir
    }

    static func removeData(_ world: Communicator, _ dir: String) {
        try? world.barrier()
        if world.rank == 0 { try? FileManager.default.removeItem(atPath: dir) }
    }

    static func config(_ dir: String, _ name: String, _ scenario: Scenario, seed: Int = 7, batch: Int = 128) -> String {
        let lenet = """
            - {kind: conv2d, name: conv1, out: 6, kernel: 5, padding: 2}
            - {kind: relu}
            - {kind: maxpool, kernel: 2}
            - {kind: conv2d, name: conv2, out: 16, kernel: 5}
            - {kind: relu}
            - {kind: maxpool, kernel: 2}
            - {kind: flatten}
            - {kind: linear, name: fc1, out: 120}
            - {kind: relu}
            - {kind: linear, name: fc2, out: 84}
            - {kind: relu}
            - {kind: linear, name: fc3, out: 10}
        """
        let withBN = """
            - {kind: conv2d, name: conv1, out: 8, kernel: 3, padding: 1, bias: false}
            - {kind: batchnorm, name: bn1}
            - {kind: relu}
            - {kind: maxpool, kernel: 4}
            - {kind: flatten}
            - {kind: linear, name: fc1, out: 32, bias: false}
            - {kind: batchnorm, name: bn2}
            - {kind: relu}
            - {kind: linear, name: fc2, out: 10}
        """
        return """
        name: \(name)
        seed: \(seed)
        data:
          dataset: idx
          directory: \(dir)
          train_images: train-images-idx3-ubyte.gz
          train_labels: train-labels-idx1-ubyte.gz
          test_images: t10k-images-idx3-ubyte.gz
          test_labels: t10k-labels-idx1-ubyte.gz
          validation: 0
          crop_padding: \(scenario == .lenet ? 0 : 2)
          horizontal_flip: true
        model:
          input: [1, 28, 28]
          layers:
        \(scenario == .syncBatchNorm ? withBN : lenet)
        train:
          epochs: \(scenario == .lenet ? 1 : 2)
          batch_size: \(batch)
          drop_last: \(scenario == .uneven ? "false" : "true")
          optimizer: {kind: sgd, lr: 0.05, momentum: 0.9, nesterov: true}
          l2: 0.0005
          schedule: {kind: cosine, warmup_steps: 5}
          threads: 1
        checkpoint:
          directory: \(dir)/runs
          keep: 1
        distributed:
          bucket_mb: 0.05
          sync_batchnorm: \(scenario == .syncBatchNorm)
        """
    }

    static func equivalence(_ world: Communicator, _ scenario: Scenario) throws -> [String] {
        // The global batch: 128, or the nearest multiple of the world size below it.
        let batch = 128 / world.size * world.size
        let train: Int
        switch scenario {
        case .lenet: train = 50 * batch        // 50 steps of the global batch
        case .uneven: train = 4 * batch + 37   // 4 full batches and one of 37 per epoch
        case .syncBatchNorm: train = 6 * batch
        }
        let dir = try writeData(world, train: train, test: 333)
        defer { removeData(world, dir) }
        var quiet = TrainOptions()
        quiet.quiet = true
        let parallel = try Trainer(try ConfigLoader.load(yaml: config(dir, "ranks", scenario, batch: batch)), options: quiet,
                                   communicator: world).run()
        var bad: [String] = []
        if world.rank == 0 {
            let alone = try Trainer(try ConfigLoader.load(yaml: config(dir, "alone", scenario, batch: batch)), options: quiet).run()
            let a = try Checkpoint<TrainerState>.load(from: URL(fileURLWithPath: parallel.checkpoint), as: TrainerState.self)
            let b = try Checkpoint<TrainerState>.load(from: URL(fileURLWithPath: alone.checkpoint), as: TrainerState.self)
            if a.step != b.step { bad.append("steps \(a.step) vs \(b.step)") }
            if a.model.entries.keys.sorted() != b.model.entries.keys.sorted() { bad.append("tensor names differ") }
            // Over the whole model, and per tensor with a looser bound: a bias of a few
            // numbers near zero has a relative difference far above the model's.
            let worst = largestDifference(a.model, b.model), whole = modelDifference(a.model, b.model)
            print(String(format: "     %d ranks vs 1 process after %d steps: relative difference %.2e over all weights, "
                         + "largest %.2e (%@); test accuracy %.4f vs %.4f", world.size, a.step, whole, worst.relative,
                         worst.name, parallel.testAccuracy, alone.testAccuracy))
            if whole > 1e-5 { bad.append("weights differ by \(whole) relative over the model") }
            if worst.relative > 1e-4 { bad.append("weights differ: \(worst.name) by \(worst.relative) relative") }
            if abs(parallel.testAccuracy - alone.testAccuracy) > 1.5 / 333 {
                bad.append("test accuracy \(parallel.testAccuracy) vs \(alone.testAccuracy)")
            }
            if a.trainer.worldSize != world.size { bad.append("trainer.json world_size \(a.trainer.worldSize)") }
        }
        return try sharingVerdict(world, bad)
    }

    /// The findings of rank 0 known on every rank: another rank reports that rank 0 found
    /// differences, so that the check fails everywhere.
    static func sharingVerdict(_ world: Communicator, _ bad: [String]) throws -> [String] {
        let verdict = try world.allreduceSum([Double(bad.count)])
        return world.rank != 0 && verdict[0] > 0 ? bad + ["rank 0 found differences"] : bad
    }

    /// The model tensors of run `run`'s latest checkpoint under `<dir>/runs`.
    static func latestModel(_ dir: String, _ run: String) throws -> SafeTensors {
        try SafeTensors.read(from: URL(fileURLWithPath: "\(dir)/runs/\(run)/checkpoints/latest/model.safetensors"))
    }

    /// ‖a − b‖ / ‖b‖ over all of `b`'s tensors together.
    static func modelDifference(_ a: SafeTensors, _ b: SafeTensors) -> Double {
        var diff = 0.0, norm = 0.0
        for (name, entry) in b.entries {
            guard let other = a.entries[name]?.tensor else { return .infinity }
            for i in 0..<entry.tensor.count {
                let x = Double(entry.tensor[i]), d = x - Double(other[i])
                diff += d * d
                norm += x * x
            }
        }
        return (diff / max(norm, 1e-30)).squareRoot()
    }

    /// The tensor of `b` farthest from its namesake in `a`: ‖a − b‖ / ‖b‖.
    static func largestDifference(_ a: SafeTensors, _ b: SafeTensors) -> (name: String, relative: Double) {
        var worst = (name: "", relative: 0.0)
        for (name, entry) in b.entries {
            guard let other = a.entries[name]?.tensor else { return (name + " (missing)", .infinity) }
            let x = entry.tensor
            var diff = 0.0, norm = 0.0
            for i in 0..<x.count {
                let d = Double(x[i]) - Double(other[i])
                diff += d * d
                norm += Double(x[i]) * Double(x[i])
            }
            let rel = (diff / max(norm, 1e-30)).squareRoot()
            if rel > worst.relative { worst = (name, rel) }
        }
        return worst
    }

    // MARK: Sequence models

    /// A character LM (streams shared by the ranks) and an encoder–decoder with attention
    /// (each batch's pairs shared) end with the same weights as one process.
    static func sequences(_ world: Communicator) throws -> [String] {
        let dir = try world.broadcast(
            (NSTemporaryDirectory() as NSString).appendingPathComponent("phalanx-mpi-seq-\(UUID().uuidString)"), root: 0)
        if world.rank == 0 {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var rng = RNG(seed: 11)
            let words = ["the ", "cat ", "sat ", "on ", "a ", "mat. ", "dogs ", "run\n"]
            var text = ""
            while text.count < 8000 { text += words[rng.int(below: words.count)] }
            try text.write(toFile: dir + "/text", atomically: true, encoding: .utf8)
        }
        try world.barrier()
        defer { removeData(world, dir) }
        func lm(_ name: String) -> String {
            """
            name: \(name)
            seed: 5
            data: {dataset: text, text: [\(dir)/text], validation: 500, sequence_length: 16}
            model:
              input: [16]
              layers:
                - {kind: embedding, name: embed, out: 6}
                - {kind: lstm, name: lstm, out: 16, num_layers: 2, return_sequences: true}
                - {kind: linear, name: head}
            train: {epochs: 2, batch_size: 6, optimizer: {kind: adam, lr: 0.01}, clip_norm: 1}
            checkpoint: {directory: \(dir)/runs}
            """
        }
        func s2s(_ name: String) -> String {
            """
            name: \(name)
            seed: 6
            data: {dataset: seq2seq, task: number_words, min_length: 1, max_length: 5, train_pairs: 480, validation: 40, test_pairs: 40}
            model: {encoder_decoder: {embedding: 8, hidden: 16, layers: 1, attention: true}}
            train: {epochs: 2, batch_size: 24, optimizer: {kind: adam, lr: 0.01}, clip_norm: 1}
            checkpoint: {directory: \(dir)/runs}
            """
        }
        var quiet = TrainOptions()
        quiet.quiet = true
        _ = try LanguageModelTrainer(try ConfigLoader.load(yaml: lm("lm-ranks")), options: quiet, communicator: world).run()
        _ = try Seq2SeqTrainer(try ConfigLoader.load(yaml: s2s("s2s-ranks")), options: quiet, communicator: world).run()
        var bad: [String] = []
        if world.rank == 0 {
            _ = try LanguageModelTrainer(try ConfigLoader.load(yaml: lm("lm-alone")), options: quiet).run()
            _ = try Seq2SeqTrainer(try ConfigLoader.load(yaml: s2s("s2s-alone")), options: quiet).run()
            for kind in ["lm", "s2s"] {
                let a = try latestModel(dir, "\(kind)-ranks"), b = try latestModel(dir, "\(kind)-alone")
                let worst = largestDifference(a, b)
                print(String(format: "     %@: %d ranks vs 1 process: largest relative difference %.2e (%@)",
                             kind, world.size, worst.relative, worst.name))
                if !(worst.relative <= 1e-5) { bad.append("\(kind) weights differ: \(worst.name) by \(worst.relative) relative") }
            }
        }
        return try sharingVerdict(world, bad)
    }

    // MARK: A task of the loop

    /// RegressionTask (Tests/Support), registered like any new task, trained by the one
    /// loop on every rank, ends with the weights of one process — with a resume half way.
    static func regressionTask(_ world: Communicator) throws -> [String] {
        TaskRegistry.register(RegressionTask.kind)
        let dir = try world.broadcast(NSTemporaryDirectory() + "phalanx-mpi-reg-\(UUID().uuidString)", root: 0)
        defer { removeData(world, dir) }
        func yaml(_ name: String) -> String {
            """
            name: \(name)
            seed: 4
            task: regression
            data: {samples: 512, features: 5, noise: 0.05}
            model: {input: [5], layers: [{kind: linear, name: hidden, out: 8}, {kind: tanh}, {kind: linear, name: out, out: 1}]}
            train: {epochs: 4, batch_size: \(32 / world.size * world.size), optimizer: {kind: adam, lr: 0.01}}
            checkpoint: {directory: \(dir)/runs}
            """
        }
        let run = try ranksAndAlone(world, dir: dir, prefix: "reg", stopAfter: 2, yaml: yaml)
        var bad: [String] = []
        if let s = run.alone {
            let worst = run.worst
            print(String(format: "     regression: %d ranks (resumed after epoch 2) vs 1 process: largest relative difference %.2e (%@); test MSE %.4f",
                         world.size, worst.relative, worst.name, s.metrics["test_loss"] ?? .nan))
            if !(worst.relative <= 1e-5) { bad.append("weights differ: \(worst.name) by \(worst.relative) relative") }
        }
        return try sharingVerdict(world, bad)
    }

    // MARK: Autoencoder

    /// A denoising, sparse autoencoder (noise drawn per sample, the code's mean activation
    /// over the global batch) ends with the weights of one process.
    static func autoencoder(_ world: Communicator) throws -> [String] {
        let batch = 64 / world.size * world.size
        let dir = try writeData(world, train: 12 * batch, test: 64)
        defer { removeData(world, dir) }
        func yaml(_ name: String) -> String {
            """
            name: \(name)
            seed: 3
            task: autoencoder
            data: \(idxData(dir, extra: "normalize: scale"))
            model:
              input: [1, 28, 28]
              layers:
                - {kind: flatten}
                - {kind: linear, name: enc, out: 24}
                - {kind: sigmoid, name: code}
                - {kind: linear, name: dec, out: 784}
                - {kind: reshape, shape: [1, 28, 28]}
            autoencoder: {code: code, noise: {kind: mask, rate: 0.3}, sparsity: {rho: 0.1, beta: 0.5}}
            train: {epochs: 1, batch_size: \(batch), optimizer: {kind: adam, lr: 0.01}, threads: 1}
            checkpoint: {directory: \(dir)/runs}
            """
        }
        let run = try ranksAndAlone(world, dir: dir, prefix: "ae", yaml: yaml)
        var bad: [String] = []
        if let s = run.alone {
            let worst = run.worst, whole = run.whole
            print(String(format: "     autoencoder: %d ranks vs 1 process after 12 steps: %.2e over all weights, largest %.2e (%@); "
                         + "test mse %.4f, denoised %.4f", world.size, whole, worst.relative, worst.name,
                         s.metrics["test_mse"] ?? .nan, s.metrics["test_denoised_mse"] ?? .nan))
            if whole > 1e-5 || worst.relative > 1e-4 { bad.append("weights differ: \(worst.name) by \(worst.relative) relative") }
        }
        return try sharingVerdict(world, bad)
    }

    // MARK: Disagreement

    static func disagreement(_ world: Communicator) throws -> [String] {
        guard world.size > 1 else { return [] }
        let dir = try writeData(world, train: 256, test: 20)
        defer { removeData(world, dir) }
        var quiet = TrainOptions()
        quiet.quiet = true
        var bad: [String] = []
        // A different seed on the last rank: every rank must throw, none may hang.
        let seed = world.rank == world.size - 1 ? 8 : 7
        do {
            _ = try Trainer(try ConfigLoader.load(yaml: config(dir, "disagree", .lenet, seed: seed, batch: 8 * world.size)), options: quiet,
                            communicator: world).run()
            bad.append("a rank with another config trained anyway")
        } catch let e as TrainingError {
            if !"\(e)".contains("config") { bad.append("unexpected message: \(e)") }
        }
        // Ranks started with different --resume flags (mpirun's MPMD form): one message, no hang.
        var mixed = quiet
        mixed.resume = world.rank == world.size - 1
        do {
            _ = try Trainer(try ConfigLoader.load(yaml: config(dir, "mixed", .lenet, batch: 8 * world.size)), options: mixed,
                            communicator: world).run()
            bad.append("ranks with different --resume flags trained anyway")
        } catch let e as TrainingError {
            if !"\(e)".contains("--resume") { bad.append("unexpected message: \(e)") }
        }
        // Data of the same size but other content on the last rank (a stale copy on one
        // machine's disk): the same config names a relative data directory, and each rank
        // runs in a directory of its own. The checksums differ; every rank stops, naming the data.
        let own = NSTemporaryDirectory() + "phalanx-mpi-own-\(world.rank)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: own + "/data", withIntermediateDirectories: true)
        let cwd = FileManager.default.currentDirectoryPath
        defer {
            _ = FileManager.default.changeCurrentDirectoryPath(cwd)
            try? FileManager.default.removeItem(atPath: own)
        }
        var images = BandImages(side: 28, seed: world.rank == world.size - 1 ? 99 : 3, label: { ($0 * 7) % 10 },
                                band: { $0 / 3 }, bright: 120, dark: 30, noise: 120)
        try images.write(train: 256, test: 20, to: own + "/data")
        _ = FileManager.default.changeCurrentDirectoryPath(own)
        do {
            _ = try Trainer(try ConfigLoader.load(yaml: config("data", "stale", .lenet, batch: 8 * world.size)), options: quiet,
                            communicator: world).run()
            bad.append("ranks with different data trained anyway")
        } catch let e as TrainingError {
            if !"\(e)".contains("data") || !"\(e)".contains("crc") { bad.append("unexpected message: \(e)") }
        }
        // A global batch that does not split over the ranks.
        do {
            _ = try Trainer(try ConfigLoader.load(yaml: config(dir, "odd", .lenet, batch: 8 * world.size + 1)),
                            options: quiet, communicator: world).run()
            bad.append("a batch of \(8 * world.size + 1) was split over \(world.size) ranks")
        } catch let e as ConfigError {
            if e.key != "train.batch_size" { bad.append("unexpected error: \(e)") }
        }
        return bad
    }
    // MARK: Ensembles

    /// A bagged ensemble trained by the world split into groups (one member per group at a
    /// time), and by one group of all ranks (data-parallel members), ends with the same
    /// members' weights and the same soft-vote predictions as the ensemble trained in one
    /// process.
    static func ensemble(_ world: Communicator) throws -> [String] {
        let batch = 64 / world.size * world.size
        let dir = try writeData(world, train: 10 * batch, test: 333)
        defer { removeData(world, dir) }
        func yaml(_ name: String, groups: Int) -> String {
            config(dir, name, .lenet, batch: batch) + "\nensemble: {members: 3, method: bagging, groups: \(groups)}\n"
        }
        var quiet = CoordinatorOptions()
        quiet.quiet = true
        let grouped = EnsembleRunner(try ConfigLoader.load(yaml: yaml("grouped", groups: 0)), options: quiet, communicator: world)
        let groupedReport = try grouped.run()
        let parallel = EnsembleRunner(try ConfigLoader.load(yaml: yaml("parallel", groups: 1)), options: quiet, communicator: world)
        let parallelReport = try parallel.run()
        var bad: [String] = []
        if world.rank == 0 {
            let alone = EnsembleRunner(try ConfigLoader.load(yaml: yaml("alone", groups: 0)), options: quiet)
            let aloneReport = try alone.run()
            var predictions: [[Int]] = []
            for (label, runner, report) in [("groups", grouped, groupedReport), ("one group", parallel, parallelReport),
                                            ("alone", alone, aloneReport)] {
                var models: [LoadedModel] = []
                for i in 0..<3 {
                    guard let url = runner.finishedCheckpointIfAny(i) else { bad.append("\(label): member \(i + 1) unfinished"); continue }
                    models.append(try LoadedModel(url))
                }
                guard models.count == 3 else { continue }
                let test = try models[0].data().test
                predictions.append(Voting.argmax(Voting.soft(try models.map { try $0.probabilities(on: test) })))
                if label != "alone" {
                    for i in 0..<3 {
                        let a = models[i].state
                        let b = try LoadedModel(alone.finishedCheckpointIfAny(i)!).state
                        let worst = largestDifference(a, b), whole = modelDifference(a, b)
                        print(String(format: "     %@ (%d ranks) vs 1 process, member-%d: relative difference %.2e over all "
                                     + "weights, largest %.2e (%@)", label, world.size, i + 1, whole, worst.relative, worst.name))
                        // Groups of one rank train exactly as one process. Data-parallel members
                        // differ by summation order, grown over steps on augmented bootstrap
                        // batches (measured up to 9e-6 over all weights at np 2); the limit
                        // leaves room for other world sizes.
                        let limit = label == "groups" ? 1e-6 : 5e-5
                        if (label == "groups" ? worst.relative : whole) > limit {
                            bad.append("\(label): member-\(i + 1) weights differ: \(whole) overall, \(worst.name) by \(worst.relative)")
                        }
                    }
                    if let r = report, let s = aloneReport {
                        print(String(format: "     %@: soft vote %.4f vs %.4f alone, OOB %.4f vs %.4f", label, r.softVoteAccuracy,
                                     s.softVoteAccuracy, r.outOfBag?.accuracy ?? -1, s.outOfBag?.accuracy ?? -1))
                    }
                }
            }
            if predictions.count == 3 {
                for (k, label) in ["groups", "one group"].enumerated() {
                    let differ = zip(predictions[k], predictions[2]).filter { $0 != $1 }.count
                    if differ > 0 { bad.append("\(label): \(differ) soft-vote predictions differ from one process") }
                }
            }
        } else if groupedReport != nil || parallelReport != nil {
            bad.append("a rank other than 0 evaluated the ensemble")
        }
        return try sharingVerdict(world, bad)
    }
}
