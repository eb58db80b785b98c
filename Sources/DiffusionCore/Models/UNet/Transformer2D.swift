/// diffusers' `BasicTransformerBlock` (SD-family configuration): self-attention, cross-attention and a GEGLU
/// feed-forward, each after a LayerNorm and with a residual. Shapes: `x` `[B, T, C]`, `context` `[B, S, D]`.
struct BasicTransformerBlock {
    let norm1: LayerNormLayer
    let attn1: AttentionLayer
    let norm2: LayerNormLayer
    let attn2: AttentionLayer
    let norm3: LayerNormLayer
    let ffIn: LinearLayer
    let ffOut: LinearLayer

    init(_ w: ComponentWeights, _ prefix: String, dim: Int, contextDim: Int, heads: Int) throws {
        let headDim = dim / heads
        norm1 = try LayerNormLayer(w, "\(prefix).norm1", dim: dim, eps: 1e-5)
        attn1 = try AttentionLayer(w, "\(prefix).attn1", queryDim: dim, contextDim: dim, heads: heads, headDim: headDim, projectionBias: false)
        norm2 = try LayerNormLayer(w, "\(prefix).norm2", dim: dim, eps: 1e-5)
        attn2 = try AttentionLayer(w, "\(prefix).attn2", queryDim: dim, contextDim: contextDim, heads: heads, headDim: headDim, projectionBias: false)
        norm3 = try LayerNormLayer(w, "\(prefix).norm3", dim: dim, eps: 1e-5)
        let inner = dim * 4
        ffIn = try LinearLayer(w, "\(prefix).ff.net.0.proj", in: dim, out: inner * 2)
        ffOut = try LinearLayer(w, "\(prefix).ff.net.2", in: inner, out: dim)
    }

    func callAsFunction(_ x: Tensor, context: Tensor) throws -> Tensor {
        var h = try attn1.residual(x, normed: try norm1(x))
        h = try attn2.residual(h, normed: try norm2(h), context: context)
        let gated = try Ops.geglu(try ffIn(try norm3(h)))
        return try ffOut.accumulating(gated, onto: h)
    }
}

/// diffusers' `Transformer2DModel` with continuous input: GroupNorm (eps 1e-6), `proj_in` (a 1×1 convolution
/// in SD 1.x, a linear layer in SD 2.x/SDXL: the same product), the transformer blocks on the `[B, H·W, C]`
/// sequence, `proj_out`, and the residual. Shapes: `x` NCHW `[B, C, H, W]`, `context` `[B, S, D]`.
struct Transformer2D {
    let norm: GroupNormLayer
    let projIn: LinearLayer
    let blocks: [BasicTransformerBlock]
    let projOut: LinearLayer

    init(_ w: ComponentWeights, _ prefix: String, channels: Int, contextDim: Int, heads: Int, layers: Int,
         groups: Int) throws {
        norm = try GroupNormLayer(w, "\(prefix).norm", channels: channels, groups: groups, eps: 1e-6)
        projIn = try LinearLayer(pointwise: w, "\(prefix).proj_in", in: channels, out: channels)
        blocks = try (0..<layers).map {
            try BasicTransformerBlock(w, "\(prefix).transformer_blocks.\($0)", dim: channels, contextDim: contextDim, heads: heads)
        }
        projOut = try LinearLayer(pointwise: w, "\(prefix).proj_out", in: channels, out: channels)
    }

    func callAsFunction(_ x: Tensor, context: Tensor) throws -> Tensor {
        let (height, width) = (x.shape[2], x.shape[3])
        var h = try projIn(try ModelOps.toSequence(try norm(x)))
        for block in blocks { h = try block(h, context: context) }
        h = try projOut(h)
        var out = try ModelOps.toImage(h, height: height, width: width)
        try ModelOps.addScaled(&out, x, divideBy: 1)
        return out
    }
}
