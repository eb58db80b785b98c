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

    /// Runs the block on the token-major `h` `[B, T, C]` in place; each sub-layer's residual is accumulated into
    /// `h` by its last product, and the normalised copies and feed-forward intermediates reuse `workspace` buffers.
    func callAsFunction(_ h: inout Tensor, context: Tensor, workspace ws: Workspace?) throws {
        var n = try norm1(h, workspace: ws)
        try attn1.accumulate(n, context: nil, into: &h, workspace: ws)
        try norm2(h, into: &n)
        try attn2.accumulate(n, context: context, into: &h, workspace: ws)
        try norm3(h, into: &n)
        var projected = try ffIn(n, workspace: ws)
        ws?.recycle(&n)
        let inner = projected.shape[projected.rank - 1] / 2
        var gated = try ws?.tensor(shape: Array(projected.shape.dropLast()) + [inner])
            ?? Tensor(shape: Array(projected.shape.dropLast()) + [inner])
        try LayerTiming.measure("geglu") { try Ops.geglu(projected, into: &gated) }
        ws?.recycle(&projected)
        try ffOut.accumulate(gated, into: &h, workspace: ws)
        ws?.recycle(&gated)
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

    /// Adds the transformer's output to the NCHW map `x` in place (its residual). Between `proj_in` and
    /// `proj_out` the sequence stays token-major `[B, H·W, C]`; both projections read or write the NCHW layout
    /// directly, so no transpose pass runs.
    func callAsFunction(_ x: inout Tensor, context: Tensor, workspace ws: Workspace?) throws {
        let (b, c) = (x.shape[0], x.shape[1])
        let positions = x.count / (b * c)
        var normed = try norm(x, workspace: ws)
        var h = try projIn.fromChannelMajor(try normed.reshaped([b, c, positions]), workspace: ws)
        ws?.recycle(&normed)
        for block in blocks { try block(&h, context: context, workspace: ws) }
        try projOut.accumulateToChannelMajor(h, into: &x, workspace: ws)
        ws?.recycle(&h)
    }
}
