// Images a task shows for people to look at (sample grids), handed to the loop, which
// puts them in the run's TensorBoard event file at the step they were made.
import Foundation

/// The images a task added since the loop last took them (rank 0's tasks add them).
public final class RunImages {
    private var pending: [EventImage] = []

    public init() {}

    /// Adds a PNG file a task wrote, read back, under `tag` (`samples`, `reconstructions`).
    /// Errors name the file.
    public func add(tag: String, pngFile path: String) throws(CheckpointError) {
        let bytes = try DurableFile.readAll(URL(fileURLWithPath: path))
        try add(tag: tag, png: bytes, file: path)
    }

    /// Adds PNG bytes under `tag`; width, height and colour come from the PNG's header.
    public func add(tag: String, png: [UInt8], file: String = "<png>") throws(CheckpointError) {
        // Signature (8), IHDR length (4) and type (4), width, height, bit depth, colour type.
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard png.count >= 26, Array(png[0..<8]) == signature, Array(png[12..<16]) == Array("IHDR".utf8) else {
            throw CheckpointError(file: file, .io("not a PNG file (no PNG signature and IHDR header)"))
        }
        func be32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 << 8 | Int(png[at + $1]) } }
        // PNG colour types 0 grey, 4 grey + alpha, 2 RGB, 6 RGBA; TensorBoard counts channels.
        let colorspace = [0: 1, 4: 2, 2: 3, 6: 4][Int(png[25])] ?? 3
        pending.append(EventImage(tag: tag, png: png, width: be32(16), height: be32(20), colorspace: colorspace))
    }

    /// The images added since the last call, oldest first.
    public func take() -> [EventImage] {
        defer { pending.removeAll() }
        return pending
    }
}
