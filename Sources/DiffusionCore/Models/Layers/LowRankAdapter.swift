import COpenBLAS

/// A LoRA applied at run time beside a frozen weight, as stable-diffusion.cpp can: `y = W·x + U·(D·x)` with the
/// scale (file scale × strength) folded into `U`, so switching LoRAs costs building these small factors instead of
/// recomputing `W + s·U·D` for every patched layer.
///
/// For a linear layer `D` is `[r, in]`; for a convolution `D` is a convolution `[r, in, kh, kw]` with the layer's
/// stride and padding and `U` a 1×1 convolution `[out, r]` (kohya LoCon).
struct LowRankAdapter: Sendable {
    /// `[r, in]` or `[r, in, kh, kw]`.
    let down: WeightMatrix
    /// `[out, r]`, scaled.
    let up: WeightMatrix

    var rank: Int { down.rows }

    /// - Parameters:
    ///   - up: `[out, r]` or `[out, r, 1, 1]` values; `down`: `[r, in]` or `[r, in, kh, kw]`.
    ///   - scale: file scale × strength.
    init(up: [Float], upShape: [Int], down: [Float], downShape: [Int], scale: Float) throws(TensorError) {
        guard let out = upShape.first, let rank = downShape.first, upShape.dropFirst().reduce(1, *) == rank else {
            throw .shapeMismatch(operation: "LoRA factors", expected: "up [out, r(, 1, 1)] for down [r, …]", actual: upShape)
        }
        self.down = try WeightMatrix(try Tensor(shape: downShape, scalars: down))
        self.up = try WeightMatrix(try Tensor(shape: [out, rank], scalars: up.map { $0 * scale }))
    }

    /// `y += U·(x·Dᵀ)` for a linear layer over `[..., in]` rows.
    func addLinear(_ x: Tensor, into y: inout Tensor, workspace: Workspace? = nil) throws(TensorError) {
        var t = try Ops.linear(x, weight: down, workspace: workspace)
        defer { workspace?.recycle(&t) }
        try Ops.linear(t, weight: up, accumulate: true, into: &y, workspace: workspace)
    }

    /// `y += U ⋆ (D ⋆ x)` for a convolution: `D` with the layer's geometry, then the pointwise `U` per image.
    func addConv(_ x: Tensor, options: Conv2DOptions, into y: inout Tensor, workspace: Workspace? = nil) throws(TensorError) {
        var t = try Ops.conv2d(x, weight: down, options: options, workspace: workspace)
        defer { workspace?.recycle(&t) }
        let (batch, outChannels) = (y.shape[0], y.shape[1])
        let pixels = y.count / (batch * outChannels)
        guard t.shape[0] == batch, t.count / (batch * rank) == pixels, up.rows == outChannels else {
            throw .shapeMismatch(operation: "LoRA conv", expected: "[\(batch), \(rank), …] → [\(batch), \(outChannels), …]", actual: t.shape)
        }
        let (m, n, k) = (try Ops.blasIndex(outChannels, "LoRA conv"), try Ops.blasIndex(pixels, "LoRA conv"),
                         try Ops.blasIndex(rank, "LoRA conv"))
        let yp = y.elementPointer
        up.withFloat32(workspace: workspace) { u in
            withExtendedLifetime(t) {
                for b in 0..<batch {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, u, k,
                                t.elementPointer + b * rank * pixels, n, 1, yp + b * outChannels * pixels, n)
                }
            }
        }
    }
}
