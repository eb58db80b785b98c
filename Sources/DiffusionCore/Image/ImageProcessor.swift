/// Picture ↔ tensor conversions as diffusers' `VaeImageProcessor` does them, so an img2img input and a
/// decoded output carry the same numbers as in diffusers.
///
/// - Input: the size is rounded down to a multiple of the VAE scale factor (8), the picture is resized to it
///   with Pillow's Lanczos filter (bit for bit), each byte becomes `Float(b) / 255` and then `2·x − 1`:
///   a `[1, 3, H, W]` tensor in [−1, 1].
/// - Mask: the same resize, then Pillow's luminance, `Float(b) / 255`, binarised at 0.5: `[1, 1, H, W]`.
/// - Output: `(x · 0.5 + 0.5)` clamped to [0, 1], times 255, rounded half to even (NumPy's `round`), as bytes.
public enum ImageProcessor {
    /// The VAE's downsampling factor for every Stable Diffusion family.
    public static let vaeScaleFactor = 8

    /// diffusers' `get_default_height_width`: each dimension rounded down to a multiple of `multiple`.
    public static func defaultSize(width: Int, height: Int, multiple: Int = vaeScaleFactor) -> (width: Int, height: Int) {
        (width - width % multiple, height - height % multiple)
    }

    /// Pillow's `resize((width, height), Image.LANCZOS)` of an RGB picture.
    /// - Throws: ``ImageError/invalidDimensions(width:height:reason:)`` for a target below 1 pixel.
    public static func resized(_ image: RGBImage, width: Int, height: Int) throws(ImageError) -> RGBImage {
        guard width > 0, height > 0 else { throw .invalidDimensions(width: width, height: height, reason: "target size must be positive") }
        let pixels = PillowResampler.resize(image.pixels, width: image.width, height: image.height, channels: 3, toWidth: width, toHeight: height)
        return RGBImage(validWidth: width, height: height, pixels: pixels)
    }

    /// Pillow's Lanczos resize of a gray picture.
    public static func resized(_ image: GrayImage, width: Int, height: Int) throws(ImageError) -> GrayImage {
        guard width > 0, height > 0 else { throw .invalidDimensions(width: width, height: height, reason: "target size must be positive") }
        let pixels = PillowResampler.resize(image.pixels, width: image.width, height: image.height, channels: 1, toWidth: width, toHeight: height)
        return GrayImage(validWidth: width, height: height, pixels: pixels)
    }

    /// `VaeImageProcessor.preprocess` of one picture: a `[1, 3, H, W]` tensor in [−1, 1].
    /// - Parameters:
    ///   - width, height: the target size (default: the picture's), rounded down to a multiple of 8.
    /// - Throws: ``ImageError/invalidDimensions(width:height:reason:)`` when the rounded size is 0.
    public static func tensor(from image: RGBImage, width: Int? = nil, height: Int? = nil) throws(ImageError) -> Tensor {
        let size = defaultSize(width: width ?? image.width, height: height ?? image.height)
        guard size.width > 0, size.height > 0 else {
            throw .invalidDimensions(width: width ?? image.width, height: height ?? image.height,
                                     reason: "under \(vaeScaleFactor) pixels on a side (sizes are rounded down to a multiple of \(vaeScaleFactor))")
        }
        let picture = try resized(image, width: size.width, height: size.height)
        let plane = size.width * size.height
        var tensor = Tensor(uninitializedValidShape: [1, 3, size.height, size.width])
        tensor.withUnsafeMutableBufferPointer { out in
            picture.pixels.withUnsafeBufferPointer { px in
                for i in 0..<plane {
                    for c in 0..<3 {
                        let unit = Float(px[3 * i + c]) / 255
                        out[c * plane + i] = 2 * unit - 1
                    }
                }
            }
        }
        return tensor
    }

    /// The inpainting mask processor's `preprocess` (no normalisation, binarised) of a gray mask: a
    /// `[1, 1, H, W]` tensor of 0 and 1, 1 where the picture is to be repainted.
    public static func maskTensor(from mask: GrayImage, width: Int? = nil, height: Int? = nil) throws(ImageError) -> Tensor {
        let size = defaultSize(width: width ?? mask.width, height: height ?? mask.height)
        return binarised(try resized(mask, width: size.width, height: size.height))
    }

    /// The mask processor on a colour mask: resized in colour first, then Pillow's luminance, as diffusers
    /// resizes before its `convert("L")`.
    public static func maskTensor(from mask: RGBImage, width: Int? = nil, height: Int? = nil) throws(ImageError) -> Tensor {
        let size = defaultSize(width: width ?? mask.width, height: height ?? mask.height)
        return binarised(try resized(mask, width: size.width, height: size.height).luminance())
    }

    private static func binarised(_ picture: GrayImage) -> Tensor {
        var tensor = Tensor(uninitializedValidShape: [1, 1, picture.height, picture.width])
        tensor.withUnsafeMutableBufferPointer { out in
            for i in 0..<picture.pixels.count {
                out[i] = Float(picture.pixels[i]) / 255 < 0.5 ? 0 : 1
            }
        }
        return tensor
    }

    /// `VaeImageProcessor.postprocess(output_type="pil")`: one picture per batch entry of a `[N, 3, H, W]`
    /// tensor in [−1, 1].
    /// - Throws: ``ImageError/invalidTensorShape(expected:actual:)`` for any other shape.
    public static func images(from tensor: Tensor) throws(ImageError) -> [RGBImage] {
        let shape = tensor.shape
        guard shape.count == 4, shape[1] == 3, shape[0] > 0, shape[2] > 0, shape[3] > 0 else {
            throw .invalidTensorShape(expected: "[N, 3, H, W]", actual: shape)
        }
        let (batch, height, width) = (shape[0], shape[2], shape[3])
        let plane = height * width
        return tensor.withUnsafeBufferPointer { x in
            (0..<batch).map { n in
                var pixels = [UInt8](repeating: 0, count: plane * 3)
                for c in 0..<3 {
                    let base = (n * 3 + c) * plane
                    for i in 0..<plane { pixels[3 * i + c] = byte(x[base + i]) }
                }
                return RGBImage(validWidth: width, height: height, pixels: pixels)
            }
        }
    }

    /// One sample of `postprocess`: `((x · 0.5 + 0.5).clamp(0, 1) · 255).round()` in float32.
    @inline(__always)
    static func byte(_ x: Float) -> UInt8 {
        var unit = x * 0.5 + 0.5
        if !(unit >= 0) { unit = 0 }  // also NaN → 0, as torch's clamp gives NaN and uint8 casts it to 0
        if unit > 1 { unit = 1 }
        return UInt8((unit * 255).rounded(.toNearestOrEven))
    }
}
