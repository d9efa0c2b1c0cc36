// Console progress: a live bar per epoch on a terminal, plain lines otherwise.
import Foundation

/// Reports training progress on standard output (rank 0 only).
public final class ProgressReporter {
    /// Whether standard output is a terminal (bar) or not (plain lines).
    public let interactive: Bool
    /// Plain mode prints every this many steps.
    public var logEvery: Int
    private var lastDraw = 0.0
    private let quiet: Bool
    /// What the throughput counts: `img/s`, `chars/s`, `pairs/s`.
    public var unit: String
    /// Put before every line, e.g. `[member-2] ` when several runs share the terminal.
    public let prefix: String

    public init(logEvery: Int = 100, interactive: Bool? = nil, quiet: Bool = false, unit: String = "img/s",
                prefix: String = "") {
        self.unit = unit
        self.prefix = prefix
        self.interactive = interactive ?? (isatty(STDOUT_FILENO) == 1)
        self.logEvery = max(1, logEvery)
        self.quiet = quiet
    }

    /// Called after each training step of an epoch.
    public func step(epoch: Int, epochs: Int, batch: Int, batches: Int, samplesPerSec: Double,
                     loss: Double, lr: Float, elapsed: Double) {
        if quiet { return }
        if interactive {
            let now = Date().timeIntervalSince1970
            guard batch == batches || now - lastDraw > 0.1 else { return }
            lastDraw = now
            let width = 24
            let filled = batches > 0 ? width * batch / batches : width
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "")
                + String(repeating: " ", count: max(0, width - filled - 1))
            let eta = batch > 0 ? elapsed / Double(batch) * Double(batches - batch) : 0
            let line = String(format: "epoch %d/%d [%@] %d/%d  %.0f %@  loss %.4f  lr %.4g  ETA %@",
                              epoch, epochs, bar, batch, batches, samplesPerSec, unit, loss, lr, ProgressReporter.clock(eta))
            print("\r" + prefix + line + "\u{1B}[K", terminator: batch == batches ? "\n" : "")
            fflush(nil)
        } else if batch % logEvery == 0 || batch == batches {
            print(prefix + String(format: "epoch %d/%d step %d/%d  %.0f %@  loss %.4f  lr %.4g",
                         epoch, epochs, batch, batches, samplesPerSec, unit, loss, lr))
            fflush(nil)
        }
    }

    /// Prints a line that is not part of the bar (epoch summaries, messages).
    public func say(_ text: String) {
        if quiet { return }
        print(prefix + text)
        fflush(nil)
    }

    /// `m:ss` or `h:mm:ss`.
    public static func clock(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded()))
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }
}
