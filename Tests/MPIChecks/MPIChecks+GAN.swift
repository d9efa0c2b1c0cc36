// A GAN under mpirun: each rank its share of the real images and of the latents (drawn
// per sample), both networks' gradients allreduced, each network's own Adam step.
import Foundation
import PhalanxCore
import PhalanxDistributed
import PhalanxTraining

extension MPIChecks {
    /// A small GAN on N ranks (stopped after epoch 1 and resumed) ends with the weights
    /// of one process.
    static func gan(_ world: Communicator) throws -> [String] {
        let batch = 64 / world.size * world.size
        let dir = try writeData(world, train: 8 * batch, test: 100)
        defer { removeData(world, dir) }
        func yaml(_ name: String) -> String {
            """
            name: \(name)
            seed: 13
            task: gan
            data: \(idxData(dir, extra: "normalize: scale"))
            model:
              input: [16]
              layers:
                - {kind: linear, name: fc, out: 784}
                - {kind: reshape, shape: [1, 28, 28]}
                - {kind: sigmoid}
            gan:
              samples: 8
              discriminator:
                - {kind: conv2d, name: conv, out: 4, kernel: 4, stride: 2, padding: 1}
                - {kind: leaky_relu, slope: 0.2}
                - {kind: flatten}
                - {kind: linear, name: out, out: 1}
            train:
              epochs: 2
              batch_size: \(batch)
              optimizer: {kind: adam, lr: 0.001, beta1: 0.5}
              threads: 1
            checkpoint: {directory: \(dir)/runs, keep: 2}
            """
        }
        let run = try ranksAndAlone(world, dir: dir, prefix: "gan", stopAfter: 1, yaml: yaml)
        var bad: [String] = []
        if let alone = run.alone {
            let parallel = run.parallel, worst = run.worst, whole = run.whole
            print(String(format: "     GAN: %d ranks (resumed after epoch 1) vs 1 process: relative difference %.2e over both "
                         + "networks, largest %.2e (%@); test D(x) %.4f vs %.4f", world.size, whole, worst.relative, worst.name,
                         parallel.metrics["test_d_real"] ?? .nan, alone.metrics["test_d_real"] ?? .nan))
            if whole > 1e-5 { bad.append("weights differ by \(whole) relative over both networks") }
            if worst.relative > 1e-4 { bad.append("weights differ: \(worst.name) by \(worst.relative) relative") }
            if parallel.steps != alone.steps { bad.append("steps \(parallel.steps) vs \(alone.steps)") }
        }
        return try sharingVerdict(world, bad)
    }
}
