// PNG and JPEG decoding for image-folder data sets, by the libraries Debian ships:
// libpng's simplified API (which reports errors in its png_image instead of longjmp) and
// libjpeg-turbo through the C shim CJPEGShim. The format is told by the file's signature,
// not its name. Both convert on request: colour to greyscale (libpng: sRGB-weighted;
// libjpeg: its Y channel), greyscale to RGB; palettes, 16-bit samples and alpha (dropped)
// are libpng's to resolve.
import CJPEGShim
import CPNG
import Foundation

/// Reads the size of PNG and JPEG files and decodes them to 8-bit greyscale or RGB.
enum ImageDecoder {
    /// What a file's header says.
    struct Header: Equatable {
        var width: Int
        var height: Int
        /// Whether the image holds colour (greyscale otherwise).
        var colour: Bool
    }

    enum Kind { case png, jpeg }

    /// The format of the file at `path`, by its first bytes.
    static func kind(_ path: String) throws(DataError) -> Kind {
        guard let file = fopen(path, "rb") else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { fclose(file) }
        var head = [UInt8](repeating: 0, count: 8)
        let got = fread(&head, 1, 8, file)
        if got >= 8 && head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if got >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return .jpeg }
        let shown = head.prefix(got).map { String(format: "%02X", $0) }.joined(separator: " ")
        throw .undecodableImage(path: path, reason: "neither a PNG nor a JPEG file (it starts with \(got == 0 ? "nothing" : shown))")
    }

    /// The size and colour of the image at `path`, from its header.
    static func header(_ path: String) throws(DataError) -> Header {
        switch try kind(path) {
        case .png:
            let image = try beginPNG(path)
            defer { png_image_free(image); image.deallocate() }
            return Header(width: Int(image.pointee.width), height: Int(image.pointee.height),
                          colour: image.pointee.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0)
        case .jpeg:
            var info = phx_jpeg_info()
            guard phx_jpeg_decode(path, 0, nil, 0, &info) == 0 else { throw jpegError(path, &info) }
            return Header(width: Int(info.width), height: Int(info.height), colour: info.components != 1)
        }
    }

    /// Decodes the image at `path`, which must be `height × width`, to `channels` (1 or 3)
    /// bytes a pixel, row-major and interleaved, into `out` (`height · width · channels` bytes).
    static func decode(_ path: String, channels: Int, height: Int, width: Int, firstPath: String,
                       into out: UnsafeMutablePointer<UInt8>) throws(DataError) {
        let capacity = height * width * channels
        func mismatch(_ h: Int, _ w: Int) -> DataError {
            .imageSizeMismatch(path: path, found: [h, w], expected: [height, width], firstPath: firstPath)
        }
        switch try kind(path) {
        case .png:
            let image = try beginPNG(path)
            defer { image.deallocate() }
            guard Int(image.pointee.height) == height, Int(image.pointee.width) == width else {
                png_image_free(image)
                throw mismatch(Int(image.pointee.height), Int(image.pointee.width))
            }
            image.pointee.format = channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_RGB)
            // finish_read frees the image's internals in every case.
            guard png_image_finish_read(image, nil, out, 0, nil) != 0 else {
                throw .undecodableImage(path: path, reason: message(image))
            }
        case .jpeg:
            var info = phx_jpeg_info()
            switch phx_jpeg_decode(path, Int32(channels), out, capacity, &info) {
            case 0:
                if Int(info.height) != height || Int(info.width) != width { throw mismatch(Int(info.height), Int(info.width)) }
            case 2: throw mismatch(Int(info.height), Int(info.width))
            default: throw jpegError(path, &info)
            }
        }
    }

    /// A png_image read from `path` up to its header. It lives on the heap: libpng keeps its
    /// address (the error handler writes the message into it), so it must not move between
    /// calls. The caller frees its internals (`png_image_free`, or `png_image_finish_read`)
    /// and deallocates it.
    private static func beginPNG(_ path: String) throws(DataError) -> UnsafeMutablePointer<png_image> {
        let image = UnsafeMutablePointer<png_image>.allocate(capacity: 1)
        image.initialize(to: png_image())
        image.pointee.version = UInt32(PNG_IMAGE_VERSION)
        // On failure begin_read frees what it allocated.
        guard png_image_begin_read_from_file(image, path) != 0 else {
            let reason = message(image)
            image.deallocate()
            throw .undecodableImage(path: path, reason: reason)
        }
        return image
    }

    private static func message(_ image: UnsafeMutablePointer<png_image>) -> String {
        let text = withUnsafeBytes(of: &image.pointee.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "libpng: " + (text.isEmpty ? "unknown error" : text)
    }

    private static func jpegError(_ path: String, _ info: inout phx_jpeg_info) -> DataError {
        let text = withUnsafeBytes(of: &info.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return .undecodableImage(path: path, reason: "libjpeg: " + (text.isEmpty ? "unknown error" : text))
    }
}
