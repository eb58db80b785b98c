import Foundation
import LoRAKit

/// SDXL's extra conditioning (`addition_embed_type: "text_time"`): the pooled text embedding of the second
/// text encoder and the six micro-conditioning numbers (original height, width, crop top, left, target height,
/// width) per batch element.
public struct UNetAddedConditions: Sendable {
    /// `[B, pooled]`.
    public var textEmbeds: Tensor
    /// `[B, 6]`.
    public var timeIds: Tensor

    public init(textEmbeds: Tensor, timeIds: Tensor) {
        self.textEmbeds = textEmbeds
        self.timeIds = timeIds
    }
}

/// A diffusers `UNet2DConditionModel` (SD 1.x, SD 2.x, SDXL, inpainting, LCM-distilled) on the CPU, its
/// weights mapped from the component's safetensors files.
public final class UNetModel: ComponentModel, @unchecked Sendable {
    public let configuration: UNetConfiguration
    let timeLinear1: LinearLayer
    let timeLinear2: LinearLayer
    let timeCondition: LinearLayer?
    let addLinear1: LinearLayer?
    let addLinear2: LinearLayer?
    let convIn: ConvLayer
    let downBlocks: [UNetDownBlock]
    let midBlock: UNetMidBlock?
    let upBlocks: [UNetUpBlock]
    let normOut: GroupNormLayer
    let convOut: ConvLayer
    /// The buffers of the forward pass, reused from call to call (after the first call, a forward allocates no
    /// activation or scratch storage).
    let workspace = Workspace()

    init(configuration config: UNetConfiguration, weights w: ComponentWeights) throws {
        configuration = config
        let first = config.blockOutChannels[0]
        let temb = config.timeEmbeddingDim
        timeLinear1 = try LinearLayer(w, "time_embedding.linear_1", in: first, out: temb)
        timeLinear2 = try LinearLayer(w, "time_embedding.linear_2", in: temb, out: temb)
        timeCondition = try config.timeCondProjDim.map {
            try LinearLayer(w, "time_embedding.cond_proj", in: $0, out: first, bias: false)
        }
        if config.additionEmbedType == "text_time", let input = config.projectionClassEmbeddingsInputDim {
            addLinear1 = try LinearLayer(w, "add_embedding.linear_1", in: input, out: temb)
            addLinear2 = try LinearLayer(w, "add_embedding.linear_2", in: temb, out: temb)
        } else {
            addLinear1 = nil
            addLinear2 = nil
        }
        convIn = try ConvLayer(w, "conv_in", in: config.inChannels, out: first, kernel: 3, stride: 1, padding: .init(1))
        downBlocks = try config.blockOutChannels.indices.map { try UNetDownBlock(w, config, index: $0, temb: temb) }
        midBlock = config.hasMidBlock ? try UNetMidBlock(w, config, temb: temb) : nil
        upBlocks = try config.blockOutChannels.indices.map { try UNetUpBlock(w, config, index: $0, temb: temb) }
        normOut = try GroupNormLayer(w, "conv_norm_out", channels: first, groups: config.normGroups, eps: config.normEps)
        convOut = try ConvLayer(w, "conv_out", in: first, out: config.outChannels, kernel: 3, stride: 1, padding: .init(1))
        try w.requireAllTaken()
    }

    /// Loads a UNet from a diffusers component folder (`config.json` + weights).
    public convenience init(configurationJSON: Data, weightFiles: [SafetensorsFile], description: String,
                            loading: WeightLoading = .keepHalfPrecision) throws(ModelError) {
        try self.init(parsing: configurationJSON, weightFiles: weightFiles, description: description, loading: loading)
    }

    /// The predicted noise (or v, or x₀, as the model was trained) for `sample` at `timestep`.
    ///
    /// - Parameters:
    ///   - sample: NCHW latents `[B, inChannels, H, W]`.
    ///   - timestep: `[]` (one timestep for the batch) or `[B]`.
    ///   - context: the text conditioning `[B, S, crossAttentionDim]`.
    ///   - added: SDXL's pooled text embeds and time ids (required when the config has `text_time`).
    ///   - timestepCondition: LCM-distilled UNets' guidance embedding `[B, timeCondProjDim]`.
    /// - Returns: `[B, outChannels, H, W]`.
    public func callAsFunction(sample: Tensor, timestep: Tensor, context: Tensor, added: UNetAddedConditions? = nil,
                               timestepCondition: Tensor? = nil) throws(ModelError) -> Tensor {
        try ModelError.wrapping { try forward(sample: sample, timestep: timestep, context: context, added: added,
                                              timestepCondition: timestepCondition) }
    }

    private func forward(sample: Tensor, timestep: Tensor, context: Tensor, added: UNetAddedConditions?,
                         timestepCondition: Tensor?) throws -> Tensor {
        let config = configuration
        guard sample.rank == 4, sample.shape[1] == config.inChannels, sample.count > 0 else {
            throw ModelError.invalidInput("sample must be [B, \(config.inChannels), H, W], got \(sample.shape)")
        }
        let batch = sample.shape[0]
        guard context.rank == 3, context.shape[0] == batch, context.shape[2] == (config.crossAttentionDim.first ?? 0) else {
            throw ModelError.invalidInput("context must be [\(batch), S, \(config.crossAttentionDim.first ?? 0)], got \(context.shape)")
        }
        // Time embedding: sinusoidal features of the timesteps, broadcast to the batch.
        let steps = try ModelOps.broadcastTimesteps(timestep, batch: batch)
        var tFeatures = try ModelOps.timestepEmbedding(steps, channels: config.blockOutChannels[0],
                                                       flipSinToCos: config.flipSinToCos, downscaleFreqShift: config.freqShift)
        if let timeCondition {
            guard let timestepCondition, timestepCondition.shape == [batch, config.timeCondProjDim ?? 0] else {
                throw ModelError.invalidInput("this UNet (time_cond_proj_dim \(config.timeCondProjDim ?? 0)) needs a guidance embedding [\(batch), \(config.timeCondProjDim ?? 0)]")
            }
            tFeatures = try timeCondition.accumulating(timestepCondition, onto: tFeatures)
        }
        var emb = try timeLinear2(try timeLinear1(tFeatures, activation: .silu))
        if let addLinear1, let addLinear2, let timeDim = config.additionTimeEmbedDim {
            guard let added, added.timeIds.shape == [batch, 6],
                  added.textEmbeds.rank == 2, added.textEmbeds.shape[0] == batch,
                  added.textEmbeds.shape[1] + 6 * timeDim == config.projectionClassEmbeddingsInputDim else {
                throw ModelError.invalidInput("this SDXL UNet needs pooled text embeds [\(batch), \((config.projectionClassEmbeddingsInputDim ?? 0) - 6 * timeDim)] and time ids [\(batch), 6]")
            }
            let flatIds = try added.timeIds.reshaped([batch * 6])
            let idFeatures = try ModelOps.timestepEmbedding(flatIds, channels: timeDim, flipSinToCos: config.flipSinToCos,
                                                            downscaleFreqShift: config.freqShift)
            let timeEmbeds = try idFeatures.reshaped([batch, 6 * timeDim])
            let addInput = try ModelOps.concatLastAxis(added.textEmbeds, timeEmbeds)
            let aug = try addLinear2(try addLinear1(addInput, activation: .silu))
            try ModelOps.addScaled(&emb, aug, divideBy: 1)
        }
        let activatedTemb = try Ops.activation(emb, .silu)

        let ws = workspace
        var h = sample
        if config.centerInputSample { h = try ModelOps.affine(h, scale: 2, shift: -1) }
        h = try convIn(h, bias: convIn.bias, workspace: ws)
        var skips: [Tensor] = [h]
        for block in downBlocks {
            try block(&h, activatedTemb: activatedTemb, context: context, skips: &skips, workspace: ws)
        }
        if let midBlock { try midBlock(&h, activatedTemb: activatedTemb, context: context, workspace: ws) }
        for (index, block) in upBlocks.enumerated() {
            let remaining = skips.count - block.resnets.count
            let next: (Int, Int)? = index < upBlocks.count - 1 && remaining > 0
                ? (skips[remaining - 1].shape[2], skips[remaining - 1].shape[3]) : nil
            try block(&h, activatedTemb: activatedTemb, context: context, skips: &skips, upsampleSize: next, workspace: ws)
        }
        for var skip in skips { ws.recycle(&skip) }
        try normOut.apply(to: &h, activation: .silu)
        let out = try convOut(h)
        ws.recycle(&h)
        return out
    }
}
