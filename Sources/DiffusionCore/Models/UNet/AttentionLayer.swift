/// diffusers' `Attention` as the UNet's transformer blocks use it: projections to Q, K, V (no bias in
/// SD-family UNets, bias in the VAE), multi-head scaled-dot-product attention in float32, output projection.
/// Shapes: `x` `[B, T, C]`, `context` `[B, S, D]` (cross-attention) or nil (self-attention).
struct AttentionLayer {
    let toQ: LinearLayer
    let toK: LinearLayer
    let toV: LinearLayer
    let toOut: LinearLayer
    let heads: Int

    /// - Parameter pointwise: accept 1×1-convolution-shaped projection weights too (VAE attention in files
    ///   converted from original checkpoints).
    init(_ w: ComponentWeights, _ prefix: String, queryDim: Int, contextDim: Int, heads: Int, headDim: Int,
         projectionBias: Bool, pointwise: Bool = false) throws {
        let inner = heads * headDim
        func layer(_ name: String, _ inputs: Int, _ outputs: Int, _ bias: Bool) throws -> LinearLayer {
            pointwise ? try LinearLayer(pointwise: w, "\(prefix).\(name)", in: inputs, out: outputs, bias: bias)
                : try LinearLayer(w, "\(prefix).\(name)", in: inputs, out: outputs, bias: bias)
        }
        toQ = try layer("to_q", queryDim, inner, projectionBias)
        toK = try layer("to_k", contextDim, inner, projectionBias)
        toV = try layer("to_v", contextDim, inner, projectionBias)
        toOut = try layer("to_out.0", inner, queryDim, true)
        self.heads = heads
    }

    func callAsFunction(_ x: Tensor, context: Tensor? = nil) throws -> Tensor {
        let source = context ?? x
        let q = try toQ(x), k = try toK(source), v = try toV(source)
        let attended = try LayerTiming.measure(timingKind(q, k, v)) {
            try Ops.attention(query: q, key: k, value: v, options: AttentionOptions(heads: heads))
        }
        return try toOut(attended)
    }

    /// `x += attention(normed, context)` in place, the residual folded into the output projection's product;
    /// every intermediate (Q, K, V, the attended values) comes from and goes back to `workspace`.
    func accumulate(_ normed: Tensor, context: Tensor?, into x: inout Tensor, workspace ws: Workspace?) throws {
        let source = context ?? normed
        var q = try toQ(normed, workspace: ws), k = try toK(source, workspace: ws), v = try toV(source, workspace: ws)
        let shape = try Ops.attentionOutputShape(query: q, key: k, value: v, heads: heads)
        var attended = try ws?.tensor(shape: shape) ?? Tensor(shape: shape)
        try LayerTiming.measure(timingKind(q, k, v)) {
            try Ops.attention(query: q, key: k, value: v, options: AttentionOptions(heads: heads), into: &attended,
                              workspace: ws)
        }
        ws?.recycle(&q)
        ws?.recycle(&k)
        ws?.recycle(&v)
        try toOut.accumulate(attended, into: &x, workspace: ws)
        ws?.recycle(&attended)
    }

    /// The profile's name for one attention call: batch, queries × keys, heads × head width.
    func timingKind(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> String {
        let batch = q.rank == 3 ? q.shape[0] : 1
        return "attention \(batch)×\(q.shape[q.rank - 2])×\(k.shape[k.rank - 2]) \(heads)×\(q.shape[q.rank - 1] / heads)"
    }
}
