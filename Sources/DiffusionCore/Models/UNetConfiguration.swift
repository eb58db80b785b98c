import Foundation

/// The graph of a diffusers `UNet2DConditionModel`, read from its `config.json`.
///
/// Every field that changes the graph of the families this runtime runs (SD 1.x, SD 2.x, SDXL, 9-channel
/// inpainting, LCM-distilled UNets with `time_cond_proj_dim`) is honoured; any other value of a graph-changing
/// field is a ``ModelError/unsupportedConfig(component:field:value:)`` naming it. Defaults are diffusers'
/// (0.42.1) constructor defaults, so a config that omits a field means what it means in diffusers.
public struct UNetConfiguration: Sendable, Equatable {
    public enum DownBlock: String, Sendable, Equatable { case crossAttention = "CrossAttnDownBlock2D", plain = "DownBlock2D" }
    public enum UpBlock: String, Sendable, Equatable { case crossAttention = "CrossAttnUpBlock2D", plain = "UpBlock2D" }

    public var sampleSize: Int?
    public var inChannels: Int
    public var outChannels: Int
    public var centerInputSample: Bool
    public var flipSinToCos: Bool
    public var freqShift: Float
    public var downBlocks: [DownBlock]
    public var upBlocks: [UpBlock]
    /// Whether the mid block (`UNetMidBlock2DCrossAttn`) exists.
    public var hasMidBlock: Bool
    public var blockOutChannels: [Int]
    /// Resnet layers of each down block (up blocks have one more).
    public var layersPerBlock: [Int]
    public var downsamplePadding: Int
    public var midBlockScaleFactor: Float
    public var normGroups: Int
    public var normEps: Float
    /// Context width each block's cross-attention reads (per down block; the mid block uses the last).
    public var crossAttentionDim: [Int]
    /// Transformer layers in each down block's attention (the mid block uses the last).
    public var transformerLayersPerBlock: [Int]
    /// Attention heads per down block (diffusers' `attention_head_dim`, which UNet2DConditionModel reads as a
    /// head count).
    public var attentionHeads: [Int]
    public var useLinearProjection: Bool
    public var upcastAttention: Bool
    /// `"text_time"` for SDXL (pooled text embeds + `add_time_ids`), else `nil`.
    public var additionEmbedType: String?
    public var additionTimeEmbedDim: Int?
    public var projectionClassEmbeddingsInputDim: Int?
    public var resnetOutScaleFactor: Float
    public var timeEmbeddingDim: Int
    /// Width of the guidance embedding of LCM-distilled UNets, `nil` otherwise.
    public var timeCondProjDim: Int?

    /// Reads and checks a `config.json`.
    public init(json data: Data, component: String = "unet") throws(ModelError) {
        let raw: RawUNetConfig
        do {
            raw = try JSONDecoder().decode(RawUNetConfig.self, from: data)
        } catch {
            throw .invalidConfig(component: component, reason: Self.describe(error))
        }
        try self.init(raw: raw, component: component)
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
             let DecodingError.dataCorrupted(context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "field \"\(path)\": \(context.debugDescription)"
        case let DecodingError.keyNotFound(key, _):
            return "missing field \"\(key.stringValue)\""
        default:
            return "\(error)"
        }
    }

    // swiftlint:disable:next function_body_length
    init(raw: RawUNetConfig, component: String) throws(ModelError) {
        func unsupported(_ field: String, _ value: String) -> ModelError {
            .unsupportedConfig(component: component, field: field, value: value)
        }
        let blocks = raw.block_out_channels ?? [320, 640, 1280, 1280]
        let count = blocks.count
        guard count > 0, blocks.allSatisfy({ $0 > 0 }) else { throw unsupported("block_out_channels", "\(blocks)") }
        let downNames = raw.down_block_types ?? ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
        let upNames = raw.up_block_types ?? ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
        guard downNames.count == count else { throw unsupported("down_block_types", "\(downNames.count) blocks for \(count) block_out_channels") }
        guard upNames.count == count else { throw unsupported("up_block_types", "\(upNames.count) blocks for \(count) block_out_channels") }
        var down: [DownBlock] = []
        for name in downNames {
            guard let block = DownBlock(rawValue: name) else { throw unsupported("down_block_types", name) }
            down.append(block)
        }
        var up: [UpBlock] = []
        for name in upNames {
            guard let block = UpBlock(rawValue: name) else { throw unsupported("up_block_types", name) }
            up.append(block)
        }
        switch raw.mid_block_type {
        case nil, "UNetMidBlock2DCrossAttn"?: hasMidBlock = true
        default: throw unsupported("mid_block_type", raw.mid_block_type ?? "null")
        }
        if raw.mid_block_type == nil, raw.has_mid_block_type_key { hasMidBlock = false }

        func perBlock<T>(_ value: PerBlock<T>?, _ field: String, default fallback: T) throws(ModelError) -> [T] {
            guard let value else { return Array(repeating: fallback, count: count) }
            guard let list = value.expanded(to: count) else { throw unsupported(field, "a list of another length than block_out_channels") }
            return list
        }
        layersPerBlock = try perBlock(raw.layers_per_block, "layers_per_block", default: 2)
        crossAttentionDim = try perBlock(raw.cross_attention_dim, "cross_attention_dim", default: 1280)
        transformerLayersPerBlock = try perBlock(raw.transformer_layers_per_block, "transformer_layers_per_block", default: 1)
        if raw.num_attention_heads != nil { throw unsupported("num_attention_heads", "set (diffusers reads attention_head_dim)") }
        attentionHeads = try perBlock(raw.attention_head_dim, "attention_head_dim", default: 8)
        if let only = raw.only_cross_attention, (only.expanded(to: count) ?? [true]).contains(true) {
            throw unsupported("only_cross_attention", "true")
        }
        for (field, value) in [("act_fn", raw.act_fn ?? "silu")] where value != "silu" { throw unsupported(field, value) }
        if raw.dual_cross_attention == true { throw unsupported("dual_cross_attention", "true") }
        if let value = raw.class_embed_type { throw unsupported("class_embed_type", value) }
        if let value = raw.num_class_embeds { throw unsupported("num_class_embeds", "\(value)") }
        if let value = raw.encoder_hid_dim_type { throw unsupported("encoder_hid_dim_type", value) }
        if let value = raw.encoder_hid_dim { throw unsupported("encoder_hid_dim", "\(value)") }
        if let value = raw.resnet_time_scale_shift, value != "default" { throw unsupported("resnet_time_scale_shift", value) }
        if raw.resnet_skip_time_act == true { throw unsupported("resnet_skip_time_act", "true") }
        if let value = raw.time_embedding_type, value != "positional" { throw unsupported("time_embedding_type", value) }
        if let value = raw.time_embedding_act_fn { throw unsupported("time_embedding_act_fn", value) }
        if let value = raw.timestep_post_act { throw unsupported("timestep_post_act", value) }
        if let value = raw.attention_type, value != "default" { throw unsupported("attention_type", value) }
        if raw.class_embeddings_concat == true { throw unsupported("class_embeddings_concat", "true") }
        if raw.mid_block_only_cross_attention == true { throw unsupported("mid_block_only_cross_attention", "true") }
        if let value = raw.cross_attention_norm { throw unsupported("cross_attention_norm", value) }
        if raw.reverse_transformer_layers_per_block != nil { throw unsupported("reverse_transformer_layers_per_block", "set") }
        if let value = raw.conv_in_kernel, value != 3 { throw unsupported("conv_in_kernel", "\(value)") }
        if let value = raw.conv_out_kernel, value != 3 { throw unsupported("conv_out_kernel", "\(value)") }
        if raw.norm_num_groups == nil, raw.has_norm_num_groups_key { throw unsupported("norm_num_groups", "null") }
        let groups = raw.norm_num_groups ?? 32
        guard groups > 0, blocks.allSatisfy({ $0 % groups == 0 }) else {
            throw unsupported("norm_num_groups", "\(groups) (channels \(blocks) must be multiples)")
        }
        normGroups = groups
        for (index, heads) in attentionHeads.enumerated() where down[index] == .crossAttention {
            guard heads > 0, blocks[index] % heads == 0 else {
                throw unsupported("attention_head_dim", "\(heads) heads for \(blocks[index]) channels")
            }
        }
        switch raw.addition_embed_type {
        case nil: break
        case "text_time"?:
            guard let dim = raw.addition_time_embed_dim, dim > 0 else { throw unsupported("addition_time_embed_dim", "missing for text_time") }
            guard let input = raw.projection_class_embeddings_input_dim, input > 6 * dim else {
                throw unsupported("projection_class_embeddings_input_dim", "missing or too small for text_time")
            }
        case let other?: throw unsupported("addition_embed_type", other)
        }
        guard (raw.in_channels ?? 4) > 0, (raw.out_channels ?? 4) > 0 else { throw unsupported("in_channels", "not positive") }
        if let dim = raw.time_cond_proj_dim, dim <= 0 { throw unsupported("time_cond_proj_dim", "\(dim)") }

        sampleSize = raw.sample_size
        inChannels = raw.in_channels ?? 4
        outChannels = raw.out_channels ?? 4
        centerInputSample = raw.center_input_sample ?? false
        flipSinToCos = raw.flip_sin_to_cos ?? true
        freqShift = raw.freq_shift ?? 0
        downBlocks = down
        upBlocks = up
        blockOutChannels = blocks
        downsamplePadding = raw.downsample_padding ?? 1
        midBlockScaleFactor = raw.mid_block_scale_factor ?? 1
        normEps = raw.norm_eps ?? 1e-5
        useLinearProjection = raw.use_linear_projection ?? false
        upcastAttention = raw.upcast_attention ?? false
        additionEmbedType = raw.addition_embed_type
        additionTimeEmbedDim = raw.addition_time_embed_dim
        projectionClassEmbeddingsInputDim = raw.projection_class_embeddings_input_dim
        resnetOutScaleFactor = raw.resnet_out_scale_factor ?? 1
        timeEmbeddingDim = raw.time_embedding_dim ?? blocks[0] * 4
        timeCondProjDim = raw.time_cond_proj_dim
    }
}

/// `config.json` as diffusers writes it (snake_case names kept on purpose: this type only mirrors the file).
struct RawUNetConfig: Decodable {
    var sample_size: Int?
    var in_channels: Int?
    var out_channels: Int?
    var center_input_sample: Bool?
    var flip_sin_to_cos: Bool?
    var freq_shift: Float?
    var down_block_types: [String]?
    var mid_block_type: String?
    var has_mid_block_type_key = false
    var up_block_types: [String]?
    var only_cross_attention: PerBlock<Bool>?
    var block_out_channels: [Int]?
    var layers_per_block: PerBlock<Int>?
    var downsample_padding: Int?
    var mid_block_scale_factor: Float?
    var act_fn: String?
    var norm_num_groups: Int?
    var has_norm_num_groups_key = false
    var norm_eps: Float?
    var cross_attention_dim: PerBlock<Int>?
    var transformer_layers_per_block: PerBlock<Int>?
    var reverse_transformer_layers_per_block: [[Int]]?
    var encoder_hid_dim: Int?
    var encoder_hid_dim_type: String?
    var attention_head_dim: PerBlock<Int>?
    var num_attention_heads: PerBlock<Int>?
    var dual_cross_attention: Bool?
    var use_linear_projection: Bool?
    var class_embed_type: String?
    var addition_embed_type: String?
    var addition_time_embed_dim: Int?
    var num_class_embeds: Int?
    var upcast_attention: Bool?
    var resnet_time_scale_shift: String?
    var resnet_skip_time_act: Bool?
    var resnet_out_scale_factor: Float?
    var time_embedding_type: String?
    var time_embedding_dim: Int?
    var time_embedding_act_fn: String?
    var timestep_post_act: String?
    var time_cond_proj_dim: Int?
    var conv_in_kernel: Int?
    var conv_out_kernel: Int?
    var projection_class_embeddings_input_dim: Int?
    var attention_type: String?
    var class_embeddings_concat: Bool?
    var mid_block_only_cross_attention: Bool?
    var cross_attention_norm: String?

    enum CodingKeys: String, CodingKey {
        case sample_size, in_channels, out_channels, center_input_sample, flip_sin_to_cos, freq_shift,
             down_block_types, mid_block_type, up_block_types, only_cross_attention, block_out_channels,
             layers_per_block, downsample_padding, mid_block_scale_factor, act_fn, norm_num_groups, norm_eps,
             cross_attention_dim, transformer_layers_per_block, reverse_transformer_layers_per_block,
             encoder_hid_dim, encoder_hid_dim_type, attention_head_dim, num_attention_heads,
             dual_cross_attention, use_linear_projection, class_embed_type, addition_embed_type,
             addition_time_embed_dim, num_class_embeds, upcast_attention, resnet_time_scale_shift,
             resnet_skip_time_act, resnet_out_scale_factor, time_embedding_type, time_embedding_dim,
             time_embedding_act_fn, timestep_post_act, time_cond_proj_dim, conv_in_kernel, conv_out_kernel,
             projection_class_embeddings_input_dim, attention_type, class_embeddings_concat,
             mid_block_only_cross_attention, cross_attention_norm
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sample_size = try c.decodeIfPresent(Int.self, forKey: .sample_size)
        in_channels = try c.decodeIfPresent(Int.self, forKey: .in_channels)
        out_channels = try c.decodeIfPresent(Int.self, forKey: .out_channels)
        center_input_sample = try c.decodeIfPresent(Bool.self, forKey: .center_input_sample)
        flip_sin_to_cos = try c.decodeIfPresent(Bool.self, forKey: .flip_sin_to_cos)
        freq_shift = try c.decodeIfPresent(Float.self, forKey: .freq_shift)
        down_block_types = try c.decodeIfPresent([String].self, forKey: .down_block_types)
        mid_block_type = try c.decodeIfPresent(String.self, forKey: .mid_block_type)
        has_mid_block_type_key = c.contains(.mid_block_type)
        up_block_types = try c.decodeIfPresent([String].self, forKey: .up_block_types)
        only_cross_attention = try c.decodeIfPresent(PerBlock<Bool>.self, forKey: .only_cross_attention)
        block_out_channels = try c.decodeIfPresent([Int].self, forKey: .block_out_channels)
        layers_per_block = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .layers_per_block)
        downsample_padding = try c.decodeIfPresent(Int.self, forKey: .downsample_padding)
        mid_block_scale_factor = try c.decodeIfPresent(Float.self, forKey: .mid_block_scale_factor)
        act_fn = try c.decodeIfPresent(String.self, forKey: .act_fn)
        norm_num_groups = try c.decodeIfPresent(Int.self, forKey: .norm_num_groups)
        has_norm_num_groups_key = c.contains(.norm_num_groups)
        norm_eps = try c.decodeIfPresent(Float.self, forKey: .norm_eps)
        cross_attention_dim = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .cross_attention_dim)
        transformer_layers_per_block = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .transformer_layers_per_block)
        reverse_transformer_layers_per_block = try c.decodeIfPresent([[Int]].self, forKey: .reverse_transformer_layers_per_block)
        encoder_hid_dim = try c.decodeIfPresent(Int.self, forKey: .encoder_hid_dim)
        encoder_hid_dim_type = try c.decodeIfPresent(String.self, forKey: .encoder_hid_dim_type)
        attention_head_dim = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .attention_head_dim)
        num_attention_heads = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .num_attention_heads)
        dual_cross_attention = try c.decodeIfPresent(Bool.self, forKey: .dual_cross_attention)
        use_linear_projection = try c.decodeIfPresent(Bool.self, forKey: .use_linear_projection)
        class_embed_type = try c.decodeIfPresent(String.self, forKey: .class_embed_type)
        addition_embed_type = try c.decodeIfPresent(String.self, forKey: .addition_embed_type)
        addition_time_embed_dim = try c.decodeIfPresent(Int.self, forKey: .addition_time_embed_dim)
        num_class_embeds = try c.decodeIfPresent(Int.self, forKey: .num_class_embeds)
        upcast_attention = try c.decodeIfPresent(Bool.self, forKey: .upcast_attention)
        resnet_time_scale_shift = try c.decodeIfPresent(String.self, forKey: .resnet_time_scale_shift)
        resnet_skip_time_act = try c.decodeIfPresent(Bool.self, forKey: .resnet_skip_time_act)
        resnet_out_scale_factor = try c.decodeIfPresent(Float.self, forKey: .resnet_out_scale_factor)
        time_embedding_type = try c.decodeIfPresent(String.self, forKey: .time_embedding_type)
        time_embedding_dim = try c.decodeIfPresent(Int.self, forKey: .time_embedding_dim)
        time_embedding_act_fn = try c.decodeIfPresent(String.self, forKey: .time_embedding_act_fn)
        timestep_post_act = try c.decodeIfPresent(String.self, forKey: .timestep_post_act)
        time_cond_proj_dim = try c.decodeIfPresent(Int.self, forKey: .time_cond_proj_dim)
        conv_in_kernel = try c.decodeIfPresent(Int.self, forKey: .conv_in_kernel)
        conv_out_kernel = try c.decodeIfPresent(Int.self, forKey: .conv_out_kernel)
        projection_class_embeddings_input_dim = try c.decodeIfPresent(Int.self, forKey: .projection_class_embeddings_input_dim)
        attention_type = try c.decodeIfPresent(String.self, forKey: .attention_type)
        class_embeddings_concat = try c.decodeIfPresent(Bool.self, forKey: .class_embeddings_concat)
        mid_block_only_cross_attention = try c.decodeIfPresent(Bool.self, forKey: .mid_block_only_cross_attention)
        cross_attention_norm = try c.decodeIfPresent(String.self, forKey: .cross_attention_norm)
    }
}
