import CImageCodecs
import Foundation

/// A picture read from a PNG or JPEG file, in the form diffusers' `load_image` gives (Pillow's
/// `convert("RGB")`), plus its alpha channel when the file has one.
public struct LoadedImage: Sendable, Equatable {
    /// The file formats read.
    public enum Format: String, Sendable, Equatable { case png, jpeg }

    /// The colours: gray is repeated into R, G and B; alpha is dropped, as `convert("RGB")` does;
    /// 16-bit samples keep their high byte, as Pillow reads 16-bit RGB PNGs.
    public let rgb: RGBImage
    /// The alpha channel (8 bits) when the file has one (RGBA, gray + alpha, or a tRNS chunk).
    public let alpha: GrayImage?
    public let format: Format
    /// The bit depth of the samples in the file after palette expansion (8 or 16).
    public let sourceBitDepth: Int
}

/// Reads PNG (any colour type, 1–16 bits, interlaced or not) and JPEG (baseline, progressive, gray or
/// YCbCr) files through libpng and libjpeg-turbo.
public enum ImageReader {
    /// The default pixel limit: 64 megapixels (8192 × 8192), far above any diffusion input.
    public static let defaultMaximumPixels = 8192 * 8192

    /// Reads a picture file. The file is never modified.
    /// - Throws: ``ImageError/io(path:reason:)`` when it cannot be read, ``ImageError/unknownFormat(path:)``,
    ///   ``ImageError/corrupt(path:reason:)`` for damaged data (truncation, bad CRC),
    ///   ``ImageError/tooLarge(path:reason:)`` past `maximumPixels`, ``ImageError/unsupported(path:reason:)``.
    public static func read(contentsOf url: URL, maximumPixels: Int = defaultMaximumPixels) throws(ImageError) -> LoadedImage {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw .io(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        return try decode(data, path: url.path, maximumPixels: maximumPixels)
    }

    /// Decodes a picture held in memory; `path` only names it in errors.
    public static func decode(_ data: Data, path: String = "<memory>", maximumPixels: Int = defaultMaximumPixels) throws(ImageError) -> LoadedImage {
        let bytes = [UInt8](data)
        let isPNG = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let isJPEG = bytes.starts(with: [0xFF, 0xD8, 0xFF])
        guard isPNG || isJPEG else { throw .unknownFormat(path: path) }
        var decoded = dk_decoded_image()
        var message = [CChar](repeating: 0, count: 256)
        let limit = UInt64(max(0, maximumPixels))
        let code = bytes.withUnsafeBufferPointer { buffer in
            message.withUnsafeMutableBufferPointer { msg in
                isPNG
                    ? dk_png_decode(buffer.baseAddress, buffer.count, limit, &decoded, msg.baseAddress, msg.count)
                    : dk_jpeg_decode(buffer.baseAddress, buffer.count, limit, &decoded, msg.baseAddress, msg.count)
            }
        }
        defer { dk_image_free(decoded.pixels) }
        let reason = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch Int(code) {
        case Int(DK_IMAGE_OK): break
        case Int(DK_IMAGE_TOO_LARGE):
            throw .tooLarge(path: path, reason: "picture is empty or has more than \(maximumPixels) pixels")
        case Int(DK_IMAGE_UNSUPPORTED): throw .unsupported(path: path, reason: reason)
        case Int(DK_IMAGE_NOT_PNG), Int(DK_IMAGE_NOT_JPEG): throw .unknownFormat(path: path)
        case Int(DK_IMAGE_NO_MEMORY): throw .tooLarge(path: path, reason: "out of memory decoding the picture")
        default: throw .corrupt(path: path, reason: reason.isEmpty ? "cannot decode" : reason)
        }
        return convert(decoded, format: isPNG ? .png : .jpeg)
    }

    /// Samples → 8-bit RGB (+ alpha), as Pillow's `convert("RGB")` does.
    private static func convert(_ d: dk_decoded_image, format: LoadedImage.Format) -> LoadedImage {
        let width = Int(d.width), height = Int(d.height), channels = Int(d.channels)
        let count = width * height
        let wide = d.bit_depth == 16
        var rgb = [UInt8](repeating: 0, count: count * 3)
        var alpha: [UInt8]? = (channels == 2 || channels == 4) ? [UInt8](repeating: 0, count: count) : nil
        func sample(_ index: Int) -> UInt8 {
            wide ? UInt8(d.pixels.assumingMemoryBound(to: UInt16.self)[index] >> 8)
                 : d.pixels.assumingMemoryBound(to: UInt8.self)[index]
        }
        for i in 0..<count {
            let base = i * channels
            switch channels {
            case 1, 2:
                let g = sample(base)
                rgb[3 * i] = g; rgb[3 * i + 1] = g; rgb[3 * i + 2] = g
                if channels == 2 { alpha![i] = sample(base + 1) }
            default:
                rgb[3 * i] = sample(base); rgb[3 * i + 1] = sample(base + 1); rgb[3 * i + 2] = sample(base + 2)
                if channels == 4 { alpha![i] = sample(base + 3) }
            }
        }
        return LoadedImage(
            rgb: RGBImage(validWidth: width, height: height, pixels: rgb),
            alpha: alpha.map { GrayImage(validWidth: width, height: height, pixels: $0) },
            format: format,
            sourceBitDepth: Int(d.bit_depth)
        )
    }
}
