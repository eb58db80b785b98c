/// An 8-bit RGB picture: `height` rows of `width` pixels, each three bytes (red, green, blue), no padding.
/// This is what Pillow calls an "RGB" image, the form diffusers reads inputs in and writes outputs from.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width × height × 3` bytes, row-major, interleaved.
    public var pixels: [UInt8]

    /// - Throws: ``ImageError/invalidDimensions(width:height:reason:)`` when a dimension is not positive or
    ///   `pixels` does not hold `width × height × 3` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) throws(ImageError) {
        guard width > 0, height > 0 else { throw .invalidDimensions(width: width, height: height, reason: "dimensions must be positive") }
        let (area, o1) = width.multipliedReportingOverflow(by: height)
        let (bytes, o2) = area.multipliedReportingOverflow(by: 3)
        guard !o1, !o2, bytes == pixels.count else {
            throw .invalidDimensions(width: width, height: height, reason: "\(pixels.count) bytes do not make an RGB picture of this size")
        }
        self.init(validWidth: width, height: height, pixels: pixels)
    }

    init(validWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Pillow's `convert("L")`: `L = (19595·R + 38470·G + 7471·B + 2¹⁵) >> 16` (ITU-R 601-2 luma).
    public func luminance() -> GrayImage {
        var gray = [UInt8](repeating: 0, count: width * height)
        pixels.withUnsafeBufferPointer { rgb in
            for i in 0..<gray.count {
                let r = UInt32(rgb[3 * i]), g = UInt32(rgb[3 * i + 1]), b = UInt32(rgb[3 * i + 2])
                gray[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
            }
        }
        return GrayImage(validWidth: width, height: height, pixels: gray)
    }
}

/// An 8-bit single-channel picture (Pillow's "L"): masks.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width × height` bytes, row-major.
    public var pixels: [UInt8]

    /// - Throws: ``ImageError/invalidDimensions(width:height:reason:)`` as ``RGBImage/init(width:height:pixels:)``.
    public init(width: Int, height: Int, pixels: [UInt8]) throws(ImageError) {
        guard width > 0, height > 0 else { throw .invalidDimensions(width: width, height: height, reason: "dimensions must be positive") }
        let (area, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, area == pixels.count else {
            throw .invalidDimensions(width: width, height: height, reason: "\(pixels.count) bytes do not make a gray picture of this size")
        }
        self.init(validWidth: width, height: height, pixels: pixels)
    }

    init(validWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}
