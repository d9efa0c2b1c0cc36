// SIGTERM, SIGINT and SIGUSR1 ask a run to stop after the current step with a
// checkpoint; a second signal ends the process at once.
//
// Slurm sends SIGTERM (or the signal `--signal` names) before it kills a job, and so do
// preemptible clouds; Ctrl-C is SIGINT. The handler only records the signal (an
// async-signal-safe store); the loop looks at it after each step, all ranks agree on it
// with one small allreduce, and rank 0 writes the checkpoint. The process then exits with
// 128 + the signal number, as if the signal had ended it, so a scheduler counts the job
// as interrupted (and may requeue it: `phalanx train … --resume` continues exactly).
import Glibc

/// The stop request a signal made, for the training loop.
public enum StopSignal {
    /// The signals that ask for a stop.
    public static let handled: [Int32] = [SIGTERM, SIGINT, SIGUSR1]
    /// The last signal received (0: none). Written only by the handler.
    nonisolated(unsafe) static let flag: UnsafeMutablePointer<Int32> = {
        let p = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    /// Installs the handlers (idempotent) and clears any earlier request.
    public static func install() {
        flag.pointee = 0
        for s in handled { signal(s, stopHandler) }
    }

    /// Puts the default dispositions back.
    public static func uninstall() {
        for s in handled { signal(s, SIG_DFL) }
    }

    /// The signal that asked for a stop, if one did.
    public static var pending: Int32? {
        let s = flag.pointee
        return s == 0 ? nil : s
    }

    /// Stands for a signal arriving (tests).
    public static func simulate(_ signal: Int32) { flag.pointee = signal }

    /// The name of a signal (`SIGTERM`).
    public static func name(_ s: Int32) -> String {
        switch s {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGUSR1: "SIGUSR1"
        default: "signal \(s)"
        }
    }
}

/// The first signal is recorded; a second one ends the process at once.
private func stopHandler(_ signal: Int32) {
    if StopSignal.flag.pointee != 0 { _exit(128 + signal) }
    StopSignal.flag.pointee = signal
}
