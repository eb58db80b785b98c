/// One down block of the UNet (`CrossAttnDownBlock2D` or `DownBlock2D`): resnets, each followed by a
/// transformer when the block has cross-attention, then a stride-2 convolution (all but the last block).
struct UNetDownBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2D]
    let downsample: ConvLayer?

    init(_ w: ComponentWeights, _ config: UNetConfiguration, index i: Int, temb: Int) throws {
        let prefix = "down_blocks.\(i)"
        let out = config.blockOutChannels[i]
        let input = i == 0 ? config.blockOutChannels[0] : config.blockOutChannels[i - 1]
        let layers = config.layersPerBlock[i]
        resnets = try (0..<layers).map {
            try ResnetBlock2D(w, "\(prefix).resnets.\($0)", in: $0 == 0 ? input : out, out: out, temb: temb,
                              groups: config.normGroups, eps: config.normEps, outputScale: config.resnetOutScaleFactor)
        }
        attentions = config.downBlocks[i] == .crossAttention ? try (0..<layers).map {
            try Transformer2D(w, "\(prefix).attentions.\($0)", channels: out, contextDim: config.crossAttentionDim[i],
                              heads: config.attentionHeads[i], layers: config.transformerLayersPerBlock[i],
                              groups: config.normGroups)
        } : []
        let isLast = i == config.blockOutChannels.count - 1
        downsample = isLast ? nil : try ConvLayer(w, "\(prefix).downsamplers.0.conv", in: out, out: out, kernel: 3,
                                                  stride: 2, padding: .init(config.downsamplePadding))
    }

    /// Runs the block on `h` in place, appending each resnet/transformer output and the downsampled map to
    /// `skips`; every map is a `workspace` buffer, given back once the up path has used it.
    func callAsFunction(_ h: inout Tensor, activatedTemb: Tensor, context: Tensor, skips: inout [Tensor],
                        workspace ws: Workspace?) throws {
        for (index, resnet) in resnets.enumerated() {
            let next = try resnet(h, activatedTemb: activatedTemb, workspace: ws)
            ws?.recycle(&h)
            h = next
            if !attentions.isEmpty { try attentions[index](&h, context: context, workspace: ws) }
            skips.append(h)
        }
        if let downsample {
            let next = try downsample(h, bias: downsample.bias, workspace: ws)
            ws?.recycle(&h)
            h = next
            skips.append(h)
        }
    }
}

/// The UNet's mid block (`UNetMidBlock2DCrossAttn`): resnet, then for each attention a transformer and a resnet.
struct UNetMidBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2D]

    init(_ w: ComponentWeights, _ config: UNetConfiguration, temb: Int) throws {
        let channels = config.blockOutChannels.last ?? 0
        resnets = try (0..<2).map {
            try ResnetBlock2D(w, "mid_block.resnets.\($0)", in: channels, out: channels, temb: temb,
                              groups: config.normGroups, eps: config.normEps, outputScale: config.midBlockScaleFactor)
        }
        attentions = [try Transformer2D(w, "mid_block.attentions.0", channels: channels,
                                        contextDim: config.crossAttentionDim.last ?? 0,
                                        heads: config.attentionHeads.last ?? 1,
                                        layers: config.transformerLayersPerBlock.last ?? 1, groups: config.normGroups)]
    }

    /// Runs the block on `h` in place.
    func callAsFunction(_ h: inout Tensor, activatedTemb: Tensor, context: Tensor, workspace ws: Workspace?) throws {
        var next = try resnets[0](h, activatedTemb: activatedTemb, workspace: ws)
        ws?.recycle(&h)
        h = next
        for (index, attention) in attentions.enumerated() {
            try attention(&h, context: context, workspace: ws)
            next = try resnets[index + 1](h, activatedTemb: activatedTemb, workspace: ws)
            ws?.recycle(&h)
            h = next
        }
    }
}

/// One up block (`CrossAttnUpBlock2D` or `UpBlock2D`): `layers + 1` resnets, each on the channel concat of the
/// running map and the matching skip, each followed by a transformer when the block has cross-attention, then
/// nearest ×2 upsampling and a 3×3 convolution (all but the last block).
struct UNetUpBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2D]
    let upsample: ConvLayer?

    init(_ w: ComponentWeights, _ config: UNetConfiguration, index i: Int, temb: Int) throws {
        let prefix = "up_blocks.\(i)"
        let reversed = Array(config.blockOutChannels.reversed())
        let count = reversed.count
        let out = reversed[i]
        let previous = i == 0 ? reversed[0] : reversed[i - 1]
        let input = reversed[min(i + 1, count - 1)]
        // Up blocks read the per-block lists in reverse, as diffusers builds them.
        let block = count - 1 - i
        let layers = config.layersPerBlock[block] + 1
        resnets = try (0..<layers).map { j in
            let skip = j == layers - 1 ? input : out
            let resnetIn = j == 0 ? previous : out
            return try ResnetBlock2D(w, "\(prefix).resnets.\(j)", in: resnetIn + skip, out: out, temb: temb,
                                     groups: config.normGroups, eps: config.normEps,
                                     outputScale: config.resnetOutScaleFactor)
        }
        attentions = config.upBlocks[i] == .crossAttention ? try (0..<layers).map {
            try Transformer2D(w, "\(prefix).attentions.\($0)", channels: out, contextDim: config.crossAttentionDim[block],
                              heads: config.attentionHeads[block], layers: config.transformerLayersPerBlock[block],
                              groups: config.normGroups)
        } : []
        upsample = i == count - 1 ? nil
            : try ConvLayer(w, "\(prefix).upsamplers.0.conv", in: out, out: out, kernel: 3, stride: 1, padding: .init(1))
    }

    /// Runs the block on `h` in place, taking its skips from the end of `skips` (and giving their buffers back
    /// to `workspace`); `upsampleSize` is the spatial size the next block's skips have (diffusers'
    /// `upsample_size`, needed when a side was odd on the way down).
    func callAsFunction(_ h: inout Tensor, activatedTemb: Tensor, context: Tensor, skips: inout [Tensor],
                        upsampleSize: (Int, Int)?, workspace ws: Workspace?) throws {
        for (index, resnet) in resnets.enumerated() {
            guard var skip = skips.popLast() else { throw ModelError.invalidInput("UNet skip connections ran out") }
            let shape = try Ops.concatShape([h, skip])
            var joined = try ws?.tensor(shape: shape) ?? Tensor(shape: shape)
            try LayerTiming.measure("concat") { try Ops.concatChannels([h, skip], into: &joined) }
            ws?.recycle(&h)
            ws?.recycle(&skip)
            h = try resnet(joined, activatedTemb: activatedTemb, workspace: ws)
            ws?.recycle(&joined)
            if !attentions.isEmpty { try attentions[index](&h, context: context, workspace: ws) }
        }
        if let upsample {
            var larger: Tensor
            let (height, width) = (h.shape[2], h.shape[3])
            if upsampleSize == nil || upsampleSize! == (2 * height, 2 * width) {
                larger = try ws?.tensor(shape: [h.shape[0], h.shape[1], 2 * height, 2 * width])
                    ?? Tensor(shape: [h.shape[0], h.shape[1], 2 * height, 2 * width])
                try LayerTiming.measure("upsample") { try Ops.upsampleNearest2x(h, into: &larger) }
            } else {
                larger = try ModelOps.upsampleNearest(h, to: upsampleSize)
            }
            ws?.recycle(&h)
            h = try upsample(larger, bias: upsample.bias, workspace: ws)
            ws?.recycle(&larger)
        }
    }
}
