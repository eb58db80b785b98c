import Foundation

/// Whether the VAE decodes (and, for img2img and inpainting, encodes) the whole image at once or in overlapping
/// tiles, as diffusers' `enable_vae_tiling()`, A1111's and ComfyUI's tiled VAE do.
public enum VAETiling: String, Sendable, Equatable, CaseIterable {
    /// Tiles only when a whole-image pass would take more than half of the machine's memory
    /// (``MemoryPlan/wholeImageBudgetFraction``); at the usual sizes the whole image, as diffusers by default.
    case automatic = "auto"
    /// Always tiles of the VAE's `sample_size` pixels overlapping by a quarter (diffusers' `enable_tiling()`);
    /// an image no larger than one tile is decoded whole.
    case on
    /// Never tiles (diffusers' default).
    case off
}

/// The memory a generation's stages need, worked out before any work so that a size no stage could run at is
/// refused with a clear error instead of the process running out of memory, and so that a VAE pass too large
/// for the machine runs in tiles.
///
/// The figures are the runtime's float32 activations, measured with `/usr/bin/time -v` on SD1.5-shaped random
/// weights (Docs/pipeline.md): a whole-image VAE decode peaks at ≈ 5.7 maps of the VAE's first block width per
/// output pixel (2,940 bytes per pixel at 128 channels; 1.04 GB at 512², 3.36 GB at 1024²), rounded up to 6
/// here; a UNet call at ≈ 14 maps of its first block width per latent pixel and batch row. Weights come on top.
public struct MemoryPlan: Sendable, Equatable {
    /// Bytes a whole-image VAE pass would need.
    public var wholeImageVAEBytes: Int
    /// Bytes one tile's VAE pass needs (the whole image's when it is no larger than a tile).
    public var tiledVAEBytes: Int
    /// Bytes a UNet call needs for its activations.
    public var unetBytes: Int
    /// Whether the VAE runs in tiles.
    public var tiled: Bool
    /// The machine's memory the plan was made for.
    public var physicalBytes: Int

    /// A whole-image VAE pass larger than this fraction of the machine's memory runs in tiles under
    /// ``VAETiling/automatic``.
    public static let wholeImageBudgetFraction = 0.5

    /// Plans a run of `rows` UNet batch rows (2 × batch with classifier-free guidance) at `width`×`height` pixels.
    ///
    /// - Parameters:
    ///   - vaeChannels: the VAE's first block width (`block_out_channels[0]`, 128 in SD-family VAEs).
    ///   - vaeTileSide: the VAE's tile side in pixels (its `sample_size`).
    ///   - unetChannels: the UNet's first block width (320 in SD1.5 and SDXL).
    ///   - factor: pixels per latent (8).
    ///   - usesVAE: false when the VAE does not run (the tiny autoencoder decodes and there is no init image).
    /// - Throws: ``PipelineError/invalidRequest(_:)`` when the UNet's activations, or the VAE's even in tiles,
    ///   would need more than the machine's memory.
    public static func make(width: Int, height: Int, batch: Int, rows: Int, factor: Int, vaeChannels: Int,
                            vaeTileSide: Int, unetChannels: Int, tiling: VAETiling, usesVAE: Bool = true,
                            physicalBytes: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)) throws(PipelineError) -> MemoryPlan {
        let perPixel = product(6 * 4, max(vaeChannels, 1))
        let wholeBytes = product(perPixel, width, height, batch)
        let tile = max(vaeTileSide, factor)
        // Each tile carries the whole batch; an image no larger than one tile is decoded whole.
        let oneTile = width <= tile && height <= tile
        let tiledBytes = oneTile ? wholeBytes
            : min(wholeBytes, sum(product(perPixel, min(width, tile), min(height, tile), batch),
                                  product(3 * 4, width, height, batch)))
        let latentPixels = product(width / max(factor, 1), height / max(factor, 1))
        let unetBytes = product(14 * 4, max(unetChannels, 1), latentPixels, max(rows, 1))
        let tiled: Bool
        switch tiling {
        case .on: tiled = true
        case .off: tiled = false
        case .automatic: tiled = Double(wholeBytes) > Double(physicalBytes) * wholeImageBudgetFraction
        }
        let plan = MemoryPlan(wholeImageVAEBytes: wholeBytes, tiledVAEBytes: tiledBytes, unetBytes: unetBytes,
                              tiled: tiled, physicalBytes: physicalBytes)
        let size = "\(width)×\(height)" + (batch > 1 ? " × \(batch) images" : "")
        if unetBytes > physicalBytes {
            throw .invalidRequest("size \(size) needs about \(gigabytes(unetBytes)) for the UNet's activations alone; "
                                  + "this machine has \(gigabytes(physicalBytes)) of memory")
        }
        let vaeBytes = tiled ? tiledBytes : wholeBytes
        if usesVAE, vaeBytes > physicalBytes {
            throw .invalidRequest("size \(size) needs about \(gigabytes(vaeBytes)) for the VAE"
                                  + (tiled ? " even in tiles" : " (the whole image at once; VAETiling.on, --vae-tiling on, decodes in tiles)")
                                  + "; this machine has \(gigabytes(physicalBytes)) of memory")
        }
        return plan
    }

    /// The product of non-negative factors, Int.max when it overflows.
    static func product(_ factors: Int...) -> Int {
        var value = 1
        for f in factors {
            let (p, overflow) = value.multipliedReportingOverflow(by: f)
            if overflow { return Int.max }
            value = p
        }
        return value
    }

    static func sum(_ a: Int, _ b: Int) -> Int {
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : s
    }

    static func gigabytes(_ bytes: Int) -> String {
        String(format: "%.1f GB", Double(bytes) / 1e9)
    }
}
