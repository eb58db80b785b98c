/// The single-head self-attention of the VAE's mid block (diffusers `Attention` with `group_norm`, biased
/// projections, residual). Shape: NCHW `[B, C, H, W]`.
struct VAEAttention {
    let norm: GroupNormLayer
    let attention: AttentionLayer

    init(_ w: ComponentWeights, _ prefix: String, channels: Int, groups: Int) throws {
        norm = try GroupNormLayer(w, "\(prefix).group_norm", channels: channels, groups: groups, eps: 1e-6)
        attention = try AttentionLayer(w, prefix, queryDim: channels, contextDim: channels, heads: 1, headDim: channels,
                                       projectionBias: true, pointwise: true)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (height, width) = (x.shape[2], x.shape[3])
        let sequence = try ModelOps.toSequence(try norm(x))
        var out = try ModelOps.toImage(try attention(sequence), height: height, width: width)
        try ModelOps.addScaled(&out, x, divideBy: 1)
        return out
    }
}

/// The VAE's mid block (`UNetMidBlock2D` without time embedding): resnet, attention (when the config has it),
/// resnet.
struct VAEMidBlock {
    let resnets: [ResnetBlock2D]
    let attention: VAEAttention?

    init(_ w: ComponentWeights, _ prefix: String, channels: Int, groups: Int, addAttention: Bool) throws {
        resnets = try (0..<2).map {
            try ResnetBlock2D(w, "\(prefix).resnets.\($0)", in: channels, out: channels, temb: nil, groups: groups, eps: 1e-6)
        }
        attention = addAttention ? try VAEAttention(w, "\(prefix).attentions.0", channels: channels, groups: groups) : nil
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try resnets[0](x, activatedTemb: nil)
        if let attention { h = try attention(h) }
        return try resnets[1](h, activatedTemb: nil)
    }
}

/// diffusers' VAE `Encoder`: image `[B, 3, H, W]` in [-1, 1] → moments `[B, 2·latent, H/f, W/f]`.
struct VAEEncoder {
    let convIn: ConvLayer
    let blocks: [(resnets: [ResnetBlock2D], downsample: ConvLayer?)]
    let mid: VAEMidBlock
    let normOut: GroupNormLayer
    let convOut: ConvLayer

    init(_ w: ComponentWeights, _ c: AutoencoderKLConfiguration) throws {
        let channels = c.blockOutChannels
        convIn = try ConvLayer(w, "encoder.conv_in", in: c.inChannels, out: channels[0], kernel: 3, stride: 1, padding: .init(1))
        var blocks: [(resnets: [ResnetBlock2D], downsample: ConvLayer?)] = []
        var output = channels[0]
        for (i, out) in channels.enumerated() {
            let input = output
            output = out
            let resnets = try (0..<c.layersPerBlock).map {
                try ResnetBlock2D(w, "encoder.down_blocks.\(i).resnets.\($0)", in: $0 == 0 ? input : out, out: out,
                                  temb: nil, groups: c.normGroups, eps: 1e-6)
            }
            // diffusers pads right and bottom by one, then convolves with stride 2 and no padding.
            let down = i == channels.count - 1 ? nil
                : try ConvLayer(w, "encoder.down_blocks.\(i).downsamplers.0.conv", in: out, out: out, kernel: 3, stride: 2,
                                padding: .init(top: 0, left: 0, bottom: 1, right: 1))
            blocks.append((resnets, down))
        }
        self.blocks = blocks
        let last = channels[channels.count - 1]
        mid = try VAEMidBlock(w, "encoder.mid_block", channels: last, groups: c.normGroups, addAttention: c.midBlockAddAttention)
        normOut = try GroupNormLayer(w, "encoder.conv_norm_out", channels: last, groups: c.normGroups, eps: 1e-6)
        convOut = try ConvLayer(w, "encoder.conv_out", in: last, out: 2 * c.latentChannels, kernel: 3, stride: 1, padding: .init(1))
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try convIn(x)
        for block in blocks {
            for resnet in block.resnets { h = try resnet(h, activatedTemb: nil) }
            if let down = block.downsample { h = try down(h) }
        }
        h = try mid(h)
        return try convOut(try normOut(h, activation: .silu))
    }
}

/// diffusers' VAE `Decoder`: latents `[B, latent, h, w]` (after `post_quant_conv`) → image `[B, 3, h·f, w·f]`.
struct VAEDecoder {
    let convIn: ConvLayer
    let mid: VAEMidBlock
    let blocks: [(resnets: [ResnetBlock2D], upsample: ConvLayer?)]
    let normOut: GroupNormLayer
    let convOut: ConvLayer

    init(_ w: ComponentWeights, _ c: AutoencoderKLConfiguration) throws {
        let reversed = Array(c.blockOutChannels.reversed())
        convIn = try ConvLayer(w, "decoder.conv_in", in: c.latentChannels, out: reversed[0], kernel: 3, stride: 1, padding: .init(1))
        mid = try VAEMidBlock(w, "decoder.mid_block", channels: reversed[0], groups: c.normGroups, addAttention: c.midBlockAddAttention)
        var blocks: [(resnets: [ResnetBlock2D], upsample: ConvLayer?)] = []
        var output = reversed[0]
        for (i, out) in reversed.enumerated() {
            let previous = output
            output = out
            let resnets = try (0..<(c.layersPerBlock + 1)).map {
                try ResnetBlock2D(w, "decoder.up_blocks.\(i).resnets.\($0)", in: $0 == 0 ? previous : out, out: out,
                                  temb: nil, groups: c.normGroups, eps: 1e-6)
            }
            let up = i == reversed.count - 1 ? nil
                : try ConvLayer(w, "decoder.up_blocks.\(i).upsamplers.0.conv", in: out, out: out, kernel: 3, stride: 1, padding: .init(1))
            blocks.append((resnets, up))
        }
        self.blocks = blocks
        let first = c.blockOutChannels[0]
        normOut = try GroupNormLayer(w, "decoder.conv_norm_out", channels: first, groups: c.normGroups, eps: 1e-6)
        convOut = try ConvLayer(w, "decoder.conv_out", in: first, out: c.outChannels, kernel: 3, stride: 1, padding: .init(1))
    }

    func callAsFunction(_ z: Tensor) throws -> Tensor {
        var h = try mid(try convIn(z))
        for block in blocks {
            for resnet in block.resnets { h = try resnet(h, activatedTemb: nil) }
            if let up = block.upsample { h = try up(try ModelOps.upsampleNearest(h, to: nil)) }
        }
        return try convOut(try normOut(h, activation: .silu))
    }
}
