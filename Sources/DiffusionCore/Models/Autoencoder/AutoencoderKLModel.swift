import Foundation
import LoRAKit

/// The latent distribution an image encodes to: per element a Gaussian with `mean` and `std`
/// (diffusers' `DiagonalGaussianDistribution`, log-variance clamped to [-30, 20]). Shapes `[B, latent, h, w]`.
public struct LatentDistribution: Sendable {
    public var mean: Tensor
    public var std: Tensor

    /// `mean + std · noise` (diffusers' `sample(generator)` with the noise drawn by the caller).
    public func sample(noise: Tensor) throws(ModelError) -> Tensor {
        guard noise.shape == mean.shape else { throw .invalidInput("noise \(noise.shape) for latents \(mean.shape)") }
        return try ModelError.wrapping { try ModelOps.multiplyAdd(mean, std, noise) }
    }
}

/// A diffusers `AutoencoderKL` (the SD 1.x/2.x/SDXL VAE) on the CPU: decode and encode, whole or in tiles
/// with diffusers' overlap blending, so a large image decodes in bounded memory.
public final class AutoencoderKLModel: ComponentModel, @unchecked Sendable {
    public let configuration: AutoencoderKLConfiguration
    let encoder: VAEEncoder
    let decoder: VAEDecoder
    let quantConv: ConvLayer?
    let postQuantConv: ConvLayer?

    /// Tiling as diffusers' `enable_tiling()` sets it: tiles of `sampleSize` pixels (`sampleSize / f` latents)
    /// overlapping by a quarter. Off by default, as in diffusers.
    public var tiling: Bool = false
    public var tileSampleSize: Int
    public var tileOverlapFactor: Double = 0.25

    /// The spatial factor between image and latents (`2^(blocks − 1)`, 8 for SD).
    public var downscaleFactor: Int { 1 << (configuration.blockOutChannels.count - 1) }
    public var tileLatentSize: Int { Int(Double(tileSampleSize) / Double(downscaleFactor)) }

    init(configuration c: AutoencoderKLConfiguration, weights w: ComponentWeights) throws {
        configuration = c
        encoder = try VAEEncoder(w, c)
        decoder = try VAEDecoder(w, c)
        let moments = 2 * c.latentChannels
        quantConv = c.useQuantConv
            ? try ConvLayer(w, "quant_conv", in: moments, out: moments, kernel: 1, stride: 1, padding: .zero) : nil
        postQuantConv = c.usePostQuantConv
            ? try ConvLayer(w, "post_quant_conv", in: c.latentChannels, out: c.latentChannels, kernel: 1, stride: 1, padding: .zero) : nil
        tileSampleSize = c.sampleSize
        try w.requireAllTaken()
    }

    /// Loads a VAE from its `config.json` and weight files.
    public convenience init(configurationJSON: Data, weightFiles: [SafetensorsFile], description: String,
                            loading: WeightLoading = .keepHalfPrecision) throws(ModelError) {
        try self.init(parsing: configurationJSON, weightFiles: weightFiles, description: description, loading: loading)
    }

    /// Decodes VAE-space latents `[B, latent, h, w]` (already divided by the scaling factor, as diffusers'
    /// pipelines do before `vae.decode`) to images `[B, out, h·f, w·f]` in about [-1, 1]. `tiled` overrides
    /// ``tiling`` for this call (nil: the model's setting).
    public func decode(_ z: Tensor, tiled: Bool? = nil) throws(ModelError) -> Tensor {
        guard z.rank == 4, z.shape[1] == configuration.latentChannels, z.count > 0 else {
            throw .invalidInput("latents must be [B, \(configuration.latentChannels), h, w], got \(z.shape)")
        }
        return try ModelError.wrapping {
            let latent = tileLatentSize
            if tiled ?? tiling, latent > 0, z.shape[2] > latent || z.shape[3] > latent { return try tiledDecode(z) }
            return try decodeWhole(z)
        }
    }

    /// Encodes images `[B, in, H, W]` in [-1, 1] to the latent distribution. `tiled` overrides ``tiling`` for
    /// this call (nil: the model's setting).
    public func encode(_ x: Tensor, tiled: Bool? = nil) throws(ModelError) -> LatentDistribution {
        guard x.rank == 4, x.shape[1] == configuration.inChannels, x.count > 0 else {
            throw .invalidInput("image must be [B, \(configuration.inChannels), H, W], got \(x.shape)")
        }
        return try ModelError.wrapping {
            let moments: Tensor
            if tiled ?? tiling, x.shape[2] > tileSampleSize || x.shape[3] > tileSampleSize {
                moments = try tiledEncode(x)
            } else {
                moments = try encodeWhole(x)
            }
            let halves = try moments.chunked(2, axis: 1)
            let std = try ModelOps.stdFromLogVariance(halves[1], min: -30, max: 20)
            return LatentDistribution(mean: halves[0].contiguous(), std: std)
        }
    }

    func decodeWhole(_ z: Tensor) throws -> Tensor {
        try decoder(try postQuantConv.map { try $0(z) } ?? z)
    }

    func encodeWhole(_ x: Tensor) throws -> Tensor {
        let h = try encoder(x)
        return try quantConv.map { try $0(h) } ?? h
    }

    private func tiledDecode(_ z: Tensor) throws -> Tensor {
        let latent = tileLatentSize
        let overlap = Int(Double(latent) * (1 - tileOverlapFactor))
        let blend = Int(Double(tileSampleSize) * tileOverlapFactor)
        return try ModelOps.tiled(z, tile: latent, step: overlap, blend: blend, rowLimit: tileSampleSize - blend,
                                  run: decodeWhole)
    }

    private func tiledEncode(_ x: Tensor) throws -> Tensor {
        let overlap = Int(Double(tileSampleSize) * (1 - tileOverlapFactor))
        let blend = Int(Double(tileLatentSize) * tileOverlapFactor)
        return try ModelOps.tiled(x, tile: tileSampleSize, step: overlap, blend: blend, rowLimit: tileLatentSize - blend,
                                  run: encodeWhole)
    }
}
