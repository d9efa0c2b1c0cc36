// Image folders: classes are the sorted subfolders, PNG (libpng) and JPEG (libjpeg-turbo)
// decode to the pixels written; an empty class, an undecodable PNG or JPEG and images
// of another size are errors naming the folder or file.
import CJPEG
import Foundation
import PhalanxCore
@testable import PhalanxData
import Testing

/// A greyscale (`channels` 1) or RGB JPEG of `pixels` encoded by libjpeg at `quality`.
/// libjpeg keeps the addresses of the structs, the error manager and the output
/// variables between calls, so they live on the heap.
func jpegBytes(_ pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int32 = 100) -> [UInt8] {
    let cinfo = UnsafeMutablePointer<jpeg_compress_struct>.allocate(capacity: 1)
    let error = UnsafeMutablePointer<jpeg_error_mgr>.allocate(capacity: 1)
    let buffer = UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>.allocate(capacity: 1)
    let size = UnsafeMutablePointer<UInt>.allocate(capacity: 1)
    cinfo.initialize(to: jpeg_compress_struct())
    error.initialize(to: jpeg_error_mgr())
    buffer.initialize(to: nil)
    size.initialize(to: 0)
    defer { cinfo.deallocate(); error.deallocate(); buffer.deallocate(); size.deallocate() }
    cinfo.pointee.err = jpeg_std_error(error)
    jpeg_CreateCompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_compress_struct>.size)
    jpeg_mem_dest(cinfo, buffer, size)
    cinfo.pointee.image_width = JDIMENSION(width)
    cinfo.pointee.image_height = JDIMENSION(height)
    cinfo.pointee.input_components = Int32(channels)
    cinfo.pointee.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB
    jpeg_set_defaults(cinfo)
    jpeg_set_quality(cinfo, quality, 1)
    jpeg_start_compress(cinfo, 1)
    var rows = pixels
    rows.withUnsafeMutableBufferPointer { p in
        while cinfo.pointee.next_scanline < cinfo.pointee.image_height {
            var row: JSAMPROW? = p.baseAddress! + Int(cinfo.pointee.next_scanline) * width * channels
            _ = jpeg_write_scanlines(cinfo, &row, 1)
        }
    }
    jpeg_finish_compress(cinfo)
    jpeg_destroy_compress(cinfo)
    let out = Array(UnsafeBufferPointer(start: buffer.pointee, count: Int(size.pointee)))
    free(buffer.pointee)
    return out
}

@Suite struct ImageFolderTests {
    let dir = ScratchDirectory()

    /// Writes `bytes` to `relative` under the scratch directory, making folders.
    func put(_ relative: String, _ bytes: [UInt8]) {
        let path = dir.file(relative)
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    func grey(_ seed: Int, _ w: Int = 3, _ h: Int = 2) -> [UInt8] { (0..<(w * h)).map { UInt8(($0 * 40 + seed * 7) % 256) } }

    func expectError(_ expected: DataError?, naming path: String, _ also: [String] = [],
                     sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        let error = #expect(throws: DataError.self, sourceLocation: sourceLocation) { try body() }
        if let expected { #expect(error == expected, sourceLocation: sourceLocation) }
        for t in [path] + also {
            #expect(error?.description.contains(t) == true, "\(String(describing: error)) lacks \(t)", sourceLocation: sourceLocation)
        }
    }

    @Test func classesAreSortedSubfoldersAndPixelsComeBack() throws {
        defer { dir.cleanUp() }
        put("train/shirt/b.png", try PNG.grayscale(grey(1), width: 3, height: 2))
        put("train/shirt/a.PNG", try PNG.grayscale(grey(2), width: 3, height: 2))
        put("train/boot/x.png", try PNG.grayscale(grey(3), width: 3, height: 2))
        put("train/boot/notes.txt", Array("skipped".utf8))
        put("train/boot/.hidden.png", [1, 2, 3])
        let (data, classes) = try ImageFolder.load(dir.file("train"))
        #expect(classes == ["boot", "shirt"])
        #expect(data.labels == [0, 1, 1] && data.classCount == 2 && data.images.shape == [3, 1, 2, 3])
        #expect(data.images.scalars == (grey(3) + grey(2) + grey(1)).map(Float.init))
    }

    @Test func rgbAndJPEG() throws {
        defer { dir.cleanUp() }
        // RGB PNG: planar channels come out of the interleaved bytes.
        let rgb: [UInt8] = [10, 20, 30, 40, 50, 60]  // 2 × 1 pixels
        put("c/a/p.png", try PNG.rgb(rgb, width: 2, height: 1))
        // A flat grey JPEG decodes exactly at quality 100; it becomes RGB beside a colour image.
        put("c/b/q.jpg", jpegBytes([UInt8](repeating: 128, count: 2), width: 2, height: 1, channels: 1))
        let (data, _) = try ImageFolder.load(dir.file("c"))
        #expect(data.images.shape == [2, 3, 1, 2])
        #expect(Array(data.images.scalars.prefix(6)) == [10, 40, 20, 50, 30, 60])
        #expect(Array(data.images.scalars.suffix(6)) == [Float](repeating: 128, count: 6))
        // Asked for one channel, libpng converts colour to grey.
        let (g, _) = try ImageFolder.load(dir.file("c"), channels: 1)
        #expect(g.images.shape == [2, 1, 1, 2] && g.images.scalars.suffix(2) == [128, 128])
    }

    @Test func emptyClass() throws {
        defer { dir.cleanUp() }
        put("r/a/1.png", try PNG.grayscale(grey(1), width: 3, height: 2))
        put("r/b/readme.txt", Array("no images".utf8))
        let folder = dir.file("r/b")
        expectError(.emptyClass(path: folder), naming: folder) { _ = try ImageFolder.load(dir.file("r")) }
        try? FileManager.default.createDirectory(atPath: dir.file("none"), withIntermediateDirectories: true)
        expectError(nil, naming: dir.file("none"), ["no class subfolders"]) { _ = try ImageFolder.load(dir.file("none")) }
    }

    @Test func undecodablePNG() throws {
        defer { dir.cleanUp() }
        let png = try PNG.grayscale(grey(1, 16, 16), width: 16, height: 16)
        put("u/a/good.png", png)
        put("u/a/cut.png", Array(png.prefix(png.count - 20)))
        let cut = dir.file("u/a/cut.png")
        expectError(nil, naming: cut, ["cannot decode", "libpng"]) { _ = try ImageFolder.load(dir.file("u")) }
        put("v/a/text.png", Array("GIF89a, not a png".utf8))
        expectError(nil, naming: dir.file("v/a/text.png"), ["neither a PNG nor a JPEG"]) { _ = try ImageFolder.load(dir.file("v")) }
    }

    @Test func undecodableJPEG() throws {
        defer { dir.cleanUp() }
        let jpeg = jpegBytes(grey(1, 16, 16), width: 16, height: 16, channels: 1, quality: 90)
        put("j/a/good.jpg", jpeg)
        put("j/b/cut.jpeg", Array(jpeg.prefix(jpeg.count / 2)))
        let cut = dir.file("j/b/cut.jpeg")
        expectError(nil, naming: cut, ["cannot decode", "libjpeg"]) { _ = try ImageFolder.load(dir.file("j")) }
    }

    @Test func mixedImageSizes() throws {
        defer { dir.cleanUp() }
        put("m/a/1.png", try PNG.grayscale(grey(1), width: 3, height: 2))
        put("m/b/2.png", try PNG.grayscale(grey(2, 4, 4), width: 4, height: 4))
        let odd = dir.file("m/b/2.png")
        expectError(.imageSizeMismatch(path: odd, found: [4, 4], expected: [2, 3], firstPath: dir.file("m/a/1.png")),
                    naming: odd, ["4×4", "2×3"]) { _ = try ImageFolder.load(dir.file("m")) }
    }

    @Test func testFolderUsesTheTrainingClasses() throws {
        defer { dir.cleanUp() }
        put("t/a/1.png", try PNG.grayscale(grey(1), width: 3, height: 2))
        put("s/z/1.png", try PNG.grayscale(grey(1), width: 3, height: 2))
        let unknown = dir.file("s/z")
        expectError(nil, naming: unknown, ["not one of the training classes"]) {
            _ = try ImageFolder.load(dir.file("s"), classes: ["a"])
        }
    }
}
