/// A quick look at a latent without the VAE: each latent pixel becomes one RGB pixel through a per-family
/// linear map (``LatentPreviewFactors``), as ComfyUI's and InvokeAI's step previews do. A 64×64 latent gives
/// a 64×64 picture (1/8 of the final size) in well under a millisecond.
public enum LatentPreview {
    /// The preview of one batch entry of a `[N, C, H, W]` latent (unscaled, as the scheduler holds it):
    /// `rgb = Σ_c latent[c] · weights[c] + bias`, then `(rgb + 1) / 2` clamped to [0, 1] and scaled to
    /// 0…255 (truncated, as ComfyUI converts it).
    /// - Throws: ``ImageError/invalidTensorShape(expected:actual:)`` when the channel count is not the
    ///   factors' or `index` is outside the batch.
    public static func image(from latent: Tensor, index: Int = 0, factors: LatentPreviewFactors) throws(ImageError) -> RGBImage {
        let shape = latent.shape
        let channels = factors.weights.count
        guard shape.count == 4, shape[1] == channels, shape[2] > 0, shape[3] > 0, (0..<shape[0]).contains(index),
              factors.bias.count == 3, factors.weights.allSatisfy({ $0.count == 3 }) else {
            throw .invalidTensorShape(expected: "[N, \(channels), H, W] with entry \(index)", actual: shape)
        }
        let (height, width) = (shape[2], shape[3])
        let plane = height * width
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        latent.withUnsafeBufferPointer { x in
            let base = index * channels * plane
            for i in 0..<plane {
                for k in 0..<3 {
                    var v = factors.bias[k]
                    for c in 0..<channels { v += x[base + c * plane + i] * factors.weights[c][k] }
                    var unit = (v + 1) / 2
                    if !(unit >= 0) { unit = 0 }
                    if unit > 1 { unit = 1 }
                    pixels[3 * i + k] = UInt8(unit * 255)
                }
            }
        }
        return RGBImage(validWidth: width, height: height, pixels: pixels)
    }
}
