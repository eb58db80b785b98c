/// The latent → RGB linear maps used for cheap step previews, per model family, as data.
///
/// Source: ComfyUI `comfy/latent_formats.py` (`SD15.latent_rgb_factors`, used for SD 1.x and SD 2.x, and
/// `SDXL.latent_rgb_factors` with `latent_rgb_factors_bias`), fitted on the unscaled latents (x0) of each
/// family's VAE. Each row is one latent channel's contribution to (R, G, B).
public struct LatentPreviewFactors: Sendable, Equatable {
    /// `[latent channel][R, G, B]`.
    public let weights: [[Float]]
    /// Added to (R, G, B) after the weighted sum.
    public let bias: [Float]

    public init(weights: [[Float]], bias: [Float]) {
        self.weights = weights
        self.bias = bias
    }

    /// SD 1.x and SD 2.x (4 latent channels).
    public static let sd1 = LatentPreviewFactors(
        weights: [
            [0.3512, 0.2297, 0.3227],
            [0.3250, 0.4974, 0.2350],
            [-0.2829, 0.1762, 0.2721],
            [-0.2120, -0.2616, -0.7177],
        ],
        bias: [0, 0, 0]
    )

    /// SDXL (4 latent channels).
    public static let sdxl = LatentPreviewFactors(
        weights: [
            [0.3651, 0.4232, 0.4341],
            [-0.2533, -0.0042, 0.1068],
            [0.1076, 0.1111, -0.0362],
            [-0.3165, -0.2492, -0.2188],
        ],
        bias: [0.1084, -0.0175, -0.0011]
    )
}
