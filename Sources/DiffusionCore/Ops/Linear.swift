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
}
