import CDiffusionKernels
import COpenBLAS

extension Ops {
    /// A linear layer, `y = act(x·Wᵀ + b)` (torch `nn.Linear`, then the activation).
    ///
    /// - Parameters:
    ///   - x: `[..., in]`: a `[tokens, in]` sequence, `[batch, tokens, in]`, or `[batch, in]` (the leading axes
    ///     are flattened into rows).
    ///   - weight: `[out, in]`.
    ///   - bias: `[out]`, or nil.
    ///   - activation: applied to each output element, in the same pass as the bias.
    /// - Returns: `[..., out]`.
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` when `x`'s last axis is not `in` or the
    ///   bias is not `[out]`; ``TensorError/emptyTensor(operation:shape:)`` for an empty `x`.
    public static func linear(
        _ x: Tensor, weight: WeightMatrix, bias: Tensor? = nil, activation: Activation = .none,
        workspace: Workspace? = nil
    ) throws(TensorError) -> Tensor {
        guard x.rank >= 1 else { throw .shapeMismatch(operation: "linear", expected: "[..., \(weight.columns)]", actual: x.shape) }
        var out = makeOutput(Array(x.shape.dropLast()) + [weight.rows], workspace)
        try linear(x, weight: weight, bias: bias, activation: activation, into: &out, workspace: workspace)
        return out
    }

    /// ``linear(_:weight:bias:activation:workspace:)`` into `out` (`[..., out]`). With `accumulate`, the product
    /// is added to what `out` holds (`out += x·Wᵀ + b`, no activation allowed): a residual add without a pass
    /// of its own.
    public static func linear(
        _ x: Tensor, weight: WeightMatrix, bias: Tensor? = nil, activation: Activation = .none,
        accumulate: Bool = false, into out: inout Tensor, workspace: Workspace? = nil
    ) throws(TensorError) {
        let inFeatures = weight.columns, outFeatures = weight.rows
        guard x.rank >= 1, x.shape.last == inFeatures else {
            throw .shapeMismatch(operation: "linear", expected: "[..., \(inFeatures)]", actual: x.shape)
        }
        try requireNonEmpty(x, "linear")
        if let bias, bias.shape != [outFeatures] {
            throw .shapeMismatch(operation: "linear bias", expected: "[\(outFeatures)]", actual: bias.shape)
        }
        if accumulate && activation != .none {
            throw .invalidArgument(operation: "linear", reason: "an activation cannot follow an accumulating product")
        }
        try prepare(&out, shape: Array(x.shape.dropLast()) + [outFeatures], operation: "linear")
        let rows = x.count / inFeatures
        let (m, n, k) = (try blasIndex(rows, "linear"), try blasIndex(outFeatures, "linear"), try blasIndex(inFeatures, "linear"))
        let xc = x.contiguous()
        let bc = bias?.contiguous()
        let y = out.elementPointer
        weight.withFloat32(workspace: workspace) { w in
            withExtendedLifetime(xc) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, xc.elementPointer, k, w, k,
                            accumulate ? 1 : 0, y, n)
            }
        }
        guard bc != nil || activation != .none else { return }
        let act = activation.kernel
        withExtendedLifetime(bc) {
            let b = bc.map { UnsafePointer($0.elementPointer) }
            Parallel.forEach(rows, grain: Swift.max(1, 16384 / outFeatures)) { r in
                dk_bias_activation_rows(y + r.lowerBound * outFeatures, r.count, outFeatures, outFeatures, b, act)
            }
        }
    }

    /// A linear layer over the positions of channel-major maps: `x` is `[B, C_in, T]` (an NCHW map seen as
    /// `[B, C, H·W]`, e.g. the GroupNorm output before a transformer's `proj_in`) and the result is the
    /// token-major `[B, T, out]` = `xᵀ·Wᵀ + b`, with no transpose pass (the GEMM reads `x` transposed).
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` unless `x` is `[B, in, T]` and the
    ///   bias `[out]`; ``TensorError/emptyTensor(operation:shape:)``.
    public static func linear(
        channelMajor x: Tensor, weight: WeightMatrix, bias: Tensor? = nil, into out: inout Tensor,
        workspace: Workspace? = nil
    ) throws(TensorError) {
        let inFeatures = weight.columns, outFeatures = weight.rows
        try checkLayoutLinear(x, featureAxis: 1, weight: weight, bias: bias, layout: "[B, \(inFeatures), T]")
        let (batch, tokens) = (x.shape[0], x.shape[2])
        try prepare(&out, shape: [batch, tokens, outFeatures], operation: "linear")
        let (m, n, k) = (try blasIndex(tokens, "linear"), try blasIndex(outFeatures, "linear"), try blasIndex(inFeatures, "linear"))
        let xc = x.contiguous(), bc = bias?.contiguous()
        let y = out.elementPointer
        weight.withFloat32(workspace: workspace) { w in
            withExtendedLifetime(xc) {
                for b in 0..<batch {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, m, n, k, 1, xc.elementPointer + b * inFeatures * tokens,
                                m, w, k, 0, y + b * tokens * outFeatures, n)
                }
            }
        }
        guard let bc else { return }
        let rows = batch * tokens
        withExtendedLifetime(bc) {
            let bp = UnsafePointer(bc.elementPointer)
            Parallel.forEach(rows, grain: Swift.max(1, 16384 / outFeatures)) { r in
                dk_bias_activation_rows(y + r.lowerBound * outFeatures, r.count, outFeatures, outFeatures, bp, DK_ACT_NONE)
            }
        }
    }

    /// A linear layer whose result is written channel-major: `x` is the token-major `[B, T, in]` and `out` is
    /// `[B, out, ...]` with `T` positions after the channel axis (an NCHW map), `out[b, o, t] = (x·Wᵀ + b)[b, t, o]`,
    /// with no transpose pass. With `accumulate`, the result is added to what `out` holds (a transformer's
    /// `proj_out` plus its residual, in place on the residual).
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` for shapes that do not fit;
    ///   ``TensorError/emptyTensor(operation:shape:)``.
    public static func linear(
        toChannelMajor x: Tensor, weight: WeightMatrix, bias: Tensor? = nil, accumulate: Bool = false,
        into out: inout Tensor, workspace: Workspace? = nil
    ) throws(TensorError) {
        let inFeatures = weight.columns, outFeatures = weight.rows
        try checkLayoutLinear(x, featureAxis: 2, weight: weight, bias: bias, layout: "[B, T, \(inFeatures)]")
        let (batch, tokens) = (x.shape[0], x.shape[1])
        guard out.rank >= 2, out.shape[0] == batch, out.shape[1] == outFeatures, out.count == batch * outFeatures * tokens else {
            throw .shapeMismatch(operation: "linear output", expected: "[\(batch), \(outFeatures), …\(tokens) positions]", actual: out.shape)
        }
        out.makeUniqueAndContiguous()
        let (m, n, k) = (try blasIndex(outFeatures, "linear"), try blasIndex(tokens, "linear"), try blasIndex(inFeatures, "linear"))
        let xc = x.contiguous(), bc = bias?.contiguous()
        let y = out.elementPointer
        withExtendedLifetime(bc) {
            let bp = bc.map { UnsafePointer($0.elementPointer) }
            Parallel.forEach(batch * outFeatures, grain: Swift.max(1, 16384 / tokens)) { r in
                for row in r {
                    let value = bp?[row % outFeatures] ?? 0, plane = y + row * tokens
                    if accumulate {
                        if value != 0 { for i in 0..<tokens { plane[i] += value } }
                    } else {
                        plane.update(repeating: value, count: tokens)
                    }
                }
            }
        }
        weight.withFloat32(workspace: workspace) { w in
            withExtendedLifetime(xc) {
                for b in 0..<batch {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, w, k,
                                xc.elementPointer + b * tokens * inFeatures, k, 1, y + b * outFeatures * tokens, n)
                }
            }
        }
    }

    /// The argument checks of the layout-changing linear forms: `x` rank 3 with the input features on
    /// `featureAxis`, not empty, and a bias of `[out]`.
    static func checkLayoutLinear(_ x: Tensor, featureAxis: Int, weight: WeightMatrix, bias: Tensor?,
                                  layout: String) throws(TensorError) {
        guard x.rank == 3, x.shape[featureAxis] == weight.columns else {
            throw .shapeMismatch(operation: "linear", expected: layout, actual: x.shape)
        }
        try requireNonEmpty(x, "linear")
        if let bias, bias.shape != [weight.rows] {
            throw .shapeMismatch(operation: "linear bias", expected: "[\(weight.rows)]", actual: bias.shape)
        }
    }
}
