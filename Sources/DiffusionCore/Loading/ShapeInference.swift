import Foundation
import LoRAKit

/// Configurations told from a component's tensor shapes (canonical diffusers / transformers names), the values
/// shapes cannot reveal taken from the family's ``ModelFamilyConfig``: what single-file loading builds its models
/// from.
enum ShapeInference {
    /// A parameter's canonical shape, nil when the component lacks it.
    static func shape(_ tensors: ComponentTensors, _ name: String) -> [Int]? { (try? tensors.tensor(name))?.shape }

    /// How many indices `i = 0, 1, …` have `name(i)`.
    static func count(_ tensors: ComponentTensors, _ name: (Int) -> String) -> Int {
        var n = 0
        while tensors.contains(name(n)) { n += 1 }
        return n
    }

    /// The UNet's `config.json`: channels per block, layers per block, block kinds (attention or not), transformer
    /// depth per block, context width, in/out channels (4, or 9 for inpainting), linear or 1×1-conv projections,
    /// SDXL's add-embedding width and LCM's guidance-embedding width from the shapes; heads, attention upcast,
    /// time-id width and sample size from the family (GroupNorm's 32 groups are diffusers' default). SDXL's time-id
    /// width is told too when `pooledWidth` (the second text encoder's projection) is known: the add embedding reads
    /// the pooled text embedding and six time-id embeddings.
    static func unetConfig(_ t: ComponentTensors, family f: ModelFamilyConfig, file: String,
                           pooledWidth: Int? = nil) throws(ModelError) -> [String: Any] {
        func need(_ name: String) throws(ModelError) -> [Int] {
            guard let s = shape(t, name) else { throw .missingWeight(name: name, file: file) }
            return s
        }
        let convIn = try need("conv_in.weight"), convOut = try need("conv_out.weight")
        guard convIn.count == 4, convOut.count == 4 else {
            throw .invalidConfig(component: "unet", reason: "conv_in/conv_out are not convolutions in \(file)")
        }
        let levels = count(t) { "down_blocks.\($0).resnets.0.conv1.weight" }
        guard levels > 0 else { throw .missingWeight(name: "down_blocks.0.resnets.0.conv1.weight", file: file) }
        var channels: [Int] = [], down: [String] = [], depth: [Int] = [], context: Int?, linear: Bool?
        for i in 0..<levels {
            channels.append(try need("down_blocks.\(i).resnets.0.conv1.weight")[0])
            let attention = "down_blocks.\(i).attentions.0."
            let blocks = count(t) { attention + "transformer_blocks.\($0).attn1.to_q.weight" }
            down.append(blocks > 0 ? "CrossAttnDownBlock2D" : "DownBlock2D")
            depth.append(max(blocks, 1))
            if blocks > 0, context == nil { context = shape(t, attention + "transformer_blocks.0.attn2.to_k.weight")?.last }
            if blocks > 0, linear == nil { linear = shape(t, attention + "proj_in.weight").map { $0.count == 2 } }
        }
        let midDepth = count(t) { "mid_block.attentions.0.transformer_blocks.\($0).attn1.to_q.weight" }
        if midDepth > 0 {
            depth[levels - 1] = max(depth[levels - 1], midDepth)
            if context == nil { context = shape(t, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight")?.last }
            if linear == nil { linear = shape(t, "mid_block.attentions.0.proj_in.weight").map { $0.count == 2 } }
        }
        let up = (0..<levels).map { t.contains("up_blocks.\($0).attentions.0.proj_in.weight") ? "CrossAttnUpBlock2D" : "UpBlock2D" }
        let heads: [Int] = channels.map { c in
            switch f.heads {
            case .count(let n): n
            case .width(let w): max(c / w, 1)
            }
        }
        var config: [String: Any] = [
            "_class_name": "UNet2DConditionModel",
            "in_channels": convIn[1], "out_channels": convOut[0],
            "block_out_channels": channels, "down_block_types": down, "up_block_types": up,
            "layers_per_block": count(t) { "down_blocks.0.resnets.\($0).conv1.weight" },
            "transformer_layers_per_block": depth,
            "cross_attention_dim": context ?? 768,
            "use_linear_projection": linear ?? false,
            "attention_head_dim": heads,
            "upcast_attention": f.upcastAttention,
            "sample_size": f.unetSampleSize,
            "mid_block_type": t.contains("mid_block.resnets.0.conv1.weight")
                ? (midDepth > 0 ? "UNetMidBlock2DCrossAttn" : "UNetMidBlock2D") : NSNull(),
        ]
        if let add = shape(t, "add_embedding.linear_1.weight") {
            config["addition_embed_type"] = "text_time"
            config["projection_class_embeddings_input_dim"] = add[1]
            if let pooled = pooledWidth, add[1] > pooled, (add[1] - pooled) % 6 == 0 {
                config["addition_time_embed_dim"] = (add[1] - pooled) / 6
            } else {
                config["addition_time_embed_dim"] = f.additionTimeEmbedDim ?? 256
            }
        }
        if let cond = shape(t, "time_embedding.cond_proj.weight") { config["time_cond_proj_dim"] = cond[1] }
        return config
    }

    /// The VAE's `config.json`: channels per level, layers per block, latent channels, in/out channels, the
    /// quant convolutions and the mid-block attention from the shapes; scaling factor and sample size from the family.
    static func vaeConfig(_ t: ComponentTensors, family f: ModelFamilyConfig, file: String) throws(ModelError) -> [String: Any] {
        func need(_ name: String) throws(ModelError) -> [Int] {
            guard let s = shape(t, name) else { throw .missingWeight(name: name, file: file) }
            return s
        }
        let convIn = try need("encoder.conv_in.weight"), decoderIn = try need("decoder.conv_in.weight")
        let convOut = try need("decoder.conv_out.weight")
        let levels = count(t) { "encoder.down_blocks.\($0).resnets.0.conv1.weight" }
        var channels: [Int] = []
        for i in 0..<levels { channels.append(try need("encoder.down_blocks.\(i).resnets.0.conv1.weight")[0]) }
        guard !channels.isEmpty else { throw .missingWeight(name: "encoder.down_blocks.0.resnets.0.conv1.weight", file: file) }
        let config: [String: Any] = [
            "_class_name": "AutoencoderKL",
            "in_channels": convIn[1], "out_channels": convOut[0], "latent_channels": decoderIn[1],
            "block_out_channels": channels,
            "down_block_types": Array(repeating: "DownEncoderBlock2D", count: levels),
            "up_block_types": Array(repeating: "UpDecoderBlock2D", count: levels),
            "layers_per_block": count(t) { "encoder.down_blocks.0.resnets.\($0).conv1.weight" },
            "use_quant_conv": t.contains("quant_conv.weight"), "use_post_quant_conv": t.contains("post_quant_conv.weight"),
            "mid_block_add_attention": t.contains("encoder.mid_block.attentions.0.to_q.weight"),
            "scaling_factor": f.vaeScalingFactor, "sample_size": f.vaeSampleSize, "force_upcast": f.vaeForceUpcast,
        ]
        return config
    }

    /// A text encoder's configuration: width, vocabulary, positions, layers, MLP width and projection from the
    /// shapes; 64-wide heads (every CLIP text encoder SD uses), activation and layers used from the family.
    static func textConfig(_ t: ComponentTensors, encoder e: ModelFamilyConfig.TextEncoder) throws(TextError) -> CLIPTextConfig {
        func need(_ name: String) throws(TextError) -> [Int] {
            guard let s = shape(t, name), s.count == 2 else { throw .missingWeight(name) }
            return s
        }
        let token = try need("text_model.embeddings.token_embedding.weight")
        let positions = try need("text_model.embeddings.position_embedding.weight")
        let fc1 = try need("text_model.encoder.layers.0.mlp.fc1.weight")
        let layers = count(t) { "text_model.encoder.layers.\($0).mlp.fc1.weight" } - e.droppedLayers
        let projection = e.withProjection ? shape(t, "text_projection.weight")?.first : nil
        return CLIPTextConfig(hiddenSize: token[1], intermediateSize: fc1[0], numHiddenLayers: max(layers, 1),
                              numAttentionHeads: max(token[1] / 64, 1), maxPositionEmbeddings: positions[0], vocabSize: token[0],
                              hiddenAct: e.hiddenAct, projectionDim: projection,
                              architecture: e.withProjection ? "CLIPTextModelWithProjection" : "CLIPTextModel")
    }
}
