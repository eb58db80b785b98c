/// Data tables describing the Stable Diffusion UNets and CLIP text encoders,
/// from which every module path is generated (NUMERICS §2.3–2.5).
///
/// Only structure is described here (block layout, depths, widths); module paths are
/// derived from it, never typed out by hand.

/// The structure of one Stable Diffusion UNet, as its diffusers config states it.
struct UNetArchitecture: Sendable {
    var base: BaseModel
    /// `block_out_channels`.
    var blockChannels: [Int]
    /// Whether down level `i` has attentions (`CrossAttnDownBlock2D`).
    var downHasAttention: [Bool]
    /// Transformer blocks per attention at down level `i` (0 where there is no attention).
    var transformerDepth: [Int]
    /// Transformer blocks in the mid block's attention.
    var midTransformerDepth: Int
    /// `cross_attention_dim`: the width of the text conditioning.
    var crossAttentionDim: Int
    /// SDXL's `add_embedding` (`label_emb` in LDM).
    var hasAddEmbedding: Bool
    /// SD1.x uses 1×1 convolutions for `proj_in`/`proj_out`; the others use Linear.
    var projectionIsConv: Bool
    /// `layers_per_block`.
    var layersPerBlock: Int = 2

    var levels: Int { blockChannels.count }

    static let sd1 = UNetArchitecture(
        base: .sd1, blockChannels: [320, 640, 1280, 1280], downHasAttention: [true, true, true, false],
        transformerDepth: [1, 1, 1, 0], midTransformerDepth: 1, crossAttentionDim: 768,
        hasAddEmbedding: false, projectionIsConv: true)
    static let sd2 = UNetArchitecture(
        base: .sd2, blockChannels: [320, 640, 1280, 1280], downHasAttention: [true, true, true, false],
        transformerDepth: [1, 1, 1, 0], midTransformerDepth: 1, crossAttentionDim: 1024,
        hasAddEmbedding: false, projectionIsConv: false)
    static let sdxl = UNetArchitecture(
        base: .sdxl, blockChannels: [320, 640, 1280], downHasAttention: [false, true, true],
        transformerDepth: [0, 2, 10], midTransformerDepth: 10, crossAttentionDim: 2048,
        hasAddEmbedding: true, projectionIsConv: false)

    static let all: [UNetArchitecture] = [.sd1, .sd2, .sdxl]

    static func forBase(_ base: BaseModel) -> UNetArchitecture {
        switch base {
        case .sd1: .sd1
        case .sd2: .sd2
        case .sdxl: .sdxl
        }
    }

    /// Up level `i` mirrors down level `levels - 1 - i`.
    func upHasAttention(_ i: Int) -> Bool { downHasAttention[levels - 1 - i] }
    func upTransformerDepth(_ i: Int) -> Int { transformerDepth[levels - 1 - i] }

    /// Every module path with parameters, in diffusers naming, with its layer kind.
    var diffusersModules: [(path: String, kind: LayerKind)] {
        var out: [(String, LayerKind)] = [
            ("conv_in", .conv), ("time_embedding.linear_1", .linear), ("time_embedding.linear_2", .linear),
            ("conv_norm_out", .norm), ("conv_out", .conv),
        ]
        if hasAddEmbedding { out += [("add_embedding.linear_1", .linear), ("add_embedding.linear_2", .linear)] }
        func resnet(_ p: String, shortcut: Bool) {
            out += [("\(p).norm1", .norm), ("\(p).conv1", .conv), ("\(p).time_emb_proj", .linear),
                    ("\(p).norm2", .norm), ("\(p).conv2", .conv)]
            if shortcut { out.append(("\(p).conv_shortcut", .conv)) }
        }
        func attention(_ p: String, depth: Int) {
            let proj: LayerKind = projectionIsConv ? .conv : .linear
            out += [("\(p).norm", .norm), ("\(p).proj_in", proj)]
            for t in 0..<depth {
                let b = "\(p).transformer_blocks.\(t)"
                out += [("\(b).norm1", .norm), ("\(b).norm2", .norm), ("\(b).norm3", .norm)]
                for a in ["attn1", "attn2"] {
                    out += [("\(b).\(a).to_q", .linear), ("\(b).\(a).to_k", .linear),
                            ("\(b).\(a).to_v", .linear), ("\(b).\(a).to_out.0", .linear)]
                }
                out += [("\(b).ff.net.0.proj", .linear), ("\(b).ff.net.2", .linear)]
            }
            out.append(("\(p).proj_out", proj))
        }
        for i in 0..<levels {
            for j in 0..<layersPerBlock {
                // The first resnet of a level may have a shortcut whenever a model changes width
                // there (the stock configs do at levels 1–2; reduced or retrained UNets elsewhere).
                // Listing it costs nothing: no other module can be spelled the same way.
                resnet("down_blocks.\(i).resnets.\(j)", shortcut: j == 0)
                if downHasAttention[i] { attention("down_blocks.\(i).attentions.\(j)", depth: transformerDepth[i]) }
            }
            if i < levels - 1 { out.append(("down_blocks.\(i).downsamplers.0.conv", .conv)) }
        }
        resnet("mid_block.resnets.0", shortcut: true)
        attention("mid_block.attentions.0", depth: midTransformerDepth)
        resnet("mid_block.resnets.1", shortcut: true)
        for i in 0..<levels {
            for j in 0...layersPerBlock {
                resnet("up_blocks.\(i).resnets.\(j)", shortcut: true)
                if upHasAttention(i) { attention("up_blocks.\(i).attentions.\(j)", depth: upTransformerDepth(i)) }
            }
            if i < levels - 1 { out.append(("up_blocks.\(i).upsamplers.0.conv", .conv)) }
        }
        return out
    }

    /// The modules cloneofsimo/lora patched, in the order its files number them
    /// (`unet:N:up`): per transformer block attn1 q,k,v,out, then GEGLU's proj when
    /// targeted, then attn2 q,k,v,out (the block order of the diffusers of that time);
    /// down blocks, then up blocks, then the mid block.
    func cloneofsimoOrder(includeGEGLU: Bool) -> [String] {
        var blocks: [String] = []
        for i in 0..<levels where downHasAttention[i] {
            for j in 0..<layersPerBlock {
                for t in 0..<transformerDepth[i] { blocks.append("down_blocks.\(i).attentions.\(j).transformer_blocks.\(t)") }
            }
        }
        for i in 0..<levels where upHasAttention(i) {
            for j in 0...layersPerBlock {
                for t in 0..<upTransformerDepth(i) { blocks.append("up_blocks.\(i).attentions.\(j).transformer_blocks.\(t)") }
            }
        }
        for t in 0..<midTransformerDepth { blocks.append("mid_block.attentions.0.transformer_blocks.\(t)") }
        var out: [String] = []
        for b in blocks {
            out += ["to_q", "to_k", "to_v", "to_out.0"].map { "\(b).attn1.\($0)" }
            if includeGEGLU { out.append("\(b).ff.net.0.proj") }
            out += ["to_q", "to_k", "to_v", "to_out.0"].map { "\(b).attn2.\($0)" }
        }
        return out
    }
}

/// What kind of layer a module path is.
enum LayerKind: Sendable {
    case linear, conv, norm, embedding
}

/// The structure of a CLIP text encoder in transformers naming.
struct TextEncoderArchitecture: Sendable {
    var name: String
    var layers: Int
    var hiddenSize: Int
    /// `CLIPTextModelWithProjection` (SDXL's second encoder) has a top-level `text_projection`.
    var hasProjection: Bool

    static let clipL = TextEncoderArchitecture(name: "CLIP ViT-L/14", layers: 12, hiddenSize: 768, hasProjection: false)
    static let openCLIPH = TextEncoderArchitecture(name: "OpenCLIP ViT-H/14", layers: 23, hiddenSize: 1024, hasProjection: false)
    static let openCLIPBigG = TextEncoderArchitecture(name: "OpenCLIP ViT-bigG/14", layers: 32, hiddenSize: 1280, hasProjection: true)

    /// Every module path with parameters, with the `text_model.` level.
    var modules: [(path: String, kind: LayerKind)] {
        var out: [(String, LayerKind)] = [
            ("text_model.embeddings.token_embedding", .embedding), ("text_model.embeddings.position_embedding", .embedding),
            ("text_model.final_layer_norm", .norm),
        ]
        for n in 0..<layers {
            let l = "text_model.encoder.layers.\(n)"
            out += [("\(l).self_attn.k_proj", .linear), ("\(l).self_attn.v_proj", .linear),
                    ("\(l).self_attn.q_proj", .linear), ("\(l).self_attn.out_proj", .linear),
                    ("\(l).layer_norm1", .norm), ("\(l).layer_norm2", .norm),
                    ("\(l).mlp.fc1", .linear), ("\(l).mlp.fc2", .linear)]
        }
        if hasProjection { out.append(("text_projection", .linear)) }
        return out
    }

    /// cloneofsimo/lora's numbering of `CLIPAttention` children: k, v, q, out per layer
    /// (their registration order), then `fc1`, `fc2` when `CLIPMLP` was targeted.
    func cloneofsimoOrder(includeAttention: Bool, includeMLP: Bool) -> [String] {
        var out: [String] = []
        for n in 0..<layers {
            let l = "text_model.encoder.layers.\(n)"
            if includeAttention { out += ["k_proj", "v_proj", "q_proj", "out_proj"].map { "\(l).self_attn.\($0)" } }
            if includeMLP { out += ["\(l).mlp.fc1", "\(l).mlp.fc2"] }
        }
        return out
    }
}
