import Foundation

/// The graph of a diffusers `AutoencoderKL` (the SD 1.x/2.x/SDXL VAE), read from its `config.json`.
///
/// Defaults are diffusers' constructor defaults; a graph-changing field with a value this runtime does not
/// implement is a ``ModelError/unsupportedConfig(component:field:value:)`` naming it.
public struct AutoencoderKLConfiguration: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var latentChannels: Int
    public var normGroups: Int
    public var sampleSize: Int
    /// Latents are `scalingFactor · (z − shiftFactor)` in the diffusion space (SD 0.18215, SDXL 0.13025).
    public var scalingFactor: Float
    public var shiftFactor: Float
    /// Read for completeness; float32 on the CPU never needs the fp16 upcast it asks for.
    public var forceUpcast: Bool
    public var useQuantConv: Bool
    public var usePostQuantConv: Bool
    public var midBlockAddAttention: Bool

    public init(json data: Data, component: String = "vae") throws(ModelError) {
        let raw: Raw
        do { raw = try JSONDecoder().decode(Raw.self, from: data) } catch {
            throw .invalidConfig(component: component, reason: UNetConfiguration.describe(error))
        }
        func unsupported(_ field: String, _ value: String) -> ModelError {
            .unsupportedConfig(component: component, field: field, value: value)
        }
        let blocks = raw.block_out_channels ?? [64]
        guard !blocks.isEmpty, blocks.allSatisfy({ $0 > 0 }) else { throw unsupported("block_out_channels", "\(blocks)") }
        for name in raw.down_block_types ?? Array(repeating: "DownEncoderBlock2D", count: blocks.count) where name != "DownEncoderBlock2D" {
            throw unsupported("down_block_types", name)
        }
        for name in raw.up_block_types ?? Array(repeating: "UpDecoderBlock2D", count: blocks.count) where name != "UpDecoderBlock2D" {
            throw unsupported("up_block_types", name)
        }
        if let count = raw.down_block_types?.count, count != blocks.count { throw unsupported("down_block_types", "\(count) blocks for \(blocks.count) channels") }
        if let count = raw.up_block_types?.count, count != blocks.count { throw unsupported("up_block_types", "\(count) blocks for \(blocks.count) channels") }
        if let act = raw.act_fn, act != "silu" { throw unsupported("act_fn", act) }
        if raw.latents_mean != nil || raw.latents_std != nil { throw unsupported("latents_mean", "set (per-channel latent statistics)") }
        let groups = raw.norm_num_groups ?? 32
        guard groups > 0, blocks.allSatisfy({ $0 % groups == 0 }) else { throw unsupported("norm_num_groups", "\(groups)") }
        let layers = raw.layers_per_block ?? 1
        guard layers > 0 else { throw unsupported("layers_per_block", "\(layers)") }
        inChannels = raw.in_channels ?? 3
        outChannels = raw.out_channels ?? 3
        latentChannels = raw.latent_channels ?? 4
        guard inChannels > 0, outChannels > 0, latentChannels > 0 else { throw unsupported("latent_channels", "not positive") }
        blockOutChannels = blocks
        layersPerBlock = layers
        normGroups = groups
        sampleSize = raw.sample_size ?? 32
        scalingFactor = raw.scaling_factor ?? 0.18215
        shiftFactor = raw.shift_factor ?? 0
        forceUpcast = raw.force_upcast ?? true
        useQuantConv = raw.use_quant_conv ?? true
        usePostQuantConv = raw.use_post_quant_conv ?? true
        midBlockAddAttention = raw.mid_block_add_attention ?? true
    }

    private struct Raw: Decodable {
        var in_channels: Int?
        var out_channels: Int?
        var down_block_types: [String]?
        var up_block_types: [String]?
        var block_out_channels: [Int]?
        var layers_per_block: Int?
        var act_fn: String?
        var latent_channels: Int?
        var norm_num_groups: Int?
        var sample_size: Int?
        var scaling_factor: Float?
        var shift_factor: Float?
        var latents_mean: [Float]?
        var latents_std: [Float]?
        var force_upcast: Bool?
        var use_quant_conv: Bool?
        var use_post_quant_conv: Bool?
        var mid_block_add_attention: Bool?
    }
}

/// The graph of a diffusers `AutoencoderTiny` (TAESD / TAESDXL), read from its `config.json`.
public struct AutoencoderTinyConfiguration: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var encoderBlockOutChannels: [Int]
    public var decoderBlockOutChannels: [Int]
    public var numEncoderBlocks: [Int]
    public var numDecoderBlocks: [Int]
    public var latentChannels: Int
    public var upsamplingScalingFactor: Int
    /// Encoded latents are stored as bytes in diffusers' `scale_latents`; these two describe that mapping.
    public var latentMagnitude: Float
    public var latentShift: Float
    public var scalingFactor: Float
    public var shiftFactor: Float
    public var forceUpcast: Bool

    public init(json data: Data, component: String = "vae") throws(ModelError) {
        let raw: Raw
        do { raw = try JSONDecoder().decode(Raw.self, from: data) } catch {
            throw .invalidConfig(component: component, reason: UNetConfiguration.describe(error))
        }
        func unsupported(_ field: String, _ value: String) -> ModelError {
            .unsupportedConfig(component: component, field: field, value: value)
        }
        encoderBlockOutChannels = raw.encoder_block_out_channels ?? [64, 64, 64, 64]
        decoderBlockOutChannels = raw.decoder_block_out_channels ?? [64, 64, 64, 64]
        numEncoderBlocks = raw.num_encoder_blocks ?? [1, 3, 3, 3]
        numDecoderBlocks = raw.num_decoder_blocks ?? [3, 3, 3, 1]
        guard !encoderBlockOutChannels.isEmpty, encoderBlockOutChannels.count == numEncoderBlocks.count,
              encoderBlockOutChannels.allSatisfy({ $0 > 0 }), numEncoderBlocks.allSatisfy({ $0 >= 0 }) else {
            throw unsupported("num_encoder_blocks", "\(numEncoderBlocks) for channels \(encoderBlockOutChannels)")
        }
        guard !decoderBlockOutChannels.isEmpty, decoderBlockOutChannels.count == numDecoderBlocks.count,
              decoderBlockOutChannels.allSatisfy({ $0 > 0 }), numDecoderBlocks.allSatisfy({ $0 >= 0 }) else {
            throw unsupported("num_decoder_blocks", "\(numDecoderBlocks) for channels \(decoderBlockOutChannels)")
        }
        if let act = raw.act_fn, act != "relu" { throw unsupported("act_fn", act) }
        if let fn = raw.upsample_fn, fn != "nearest" { throw unsupported("upsample_fn", fn) }
        upsamplingScalingFactor = raw.upsampling_scaling_factor ?? 2
        guard upsamplingScalingFactor == 2 else { throw unsupported("upsampling_scaling_factor", "\(upsamplingScalingFactor)") }
        inChannels = raw.in_channels ?? 3
        outChannels = raw.out_channels ?? 3
        latentChannels = raw.latent_channels ?? 4
        guard inChannels > 0, outChannels > 0, latentChannels > 0 else { throw unsupported("latent_channels", "not positive") }
        latentMagnitude = raw.latent_magnitude ?? 3
        latentShift = raw.latent_shift ?? 0.5
        scalingFactor = raw.scaling_factor ?? 1
        shiftFactor = raw.shift_factor ?? 0
        forceUpcast = raw.force_upcast ?? false
    }

    private struct Raw: Decodable {
        var in_channels: Int?
        var out_channels: Int?
        var encoder_block_out_channels: [Int]?
        var decoder_block_out_channels: [Int]?
        var act_fn: String?
        var upsample_fn: String?
        var latent_channels: Int?
        var upsampling_scaling_factor: Int?
        var num_encoder_blocks: [Int]?
        var num_decoder_blocks: [Int]?
        var latent_magnitude: Float?
        var latent_shift: Float?
        var force_upcast: Bool?
        var scaling_factor: Float?
        var shift_factor: Float?
    }
}
