import CDiffusionKernels

extension Ops {
    /// Softmax over the last axis, `softmax(scale · x)` (torch `softmax(x * scale, dim=-1)`). Any shape
    /// `[..., n]`; computed in float32 with the row maximum subtracted first.
    /// - Throws: ``TensorError/emptyTensor(operation:shape:)``.
    public static func softmax(_ x: Tensor, scale: Float = 1, workspace: Workspace? = nil) throws(TensorError) -> Tensor {
        var out = makeOutput(x.shape, workspace)
        try softmax(x, scale: scale, into: &out)
        return out
    }

    /// ``softmax(_:scale:workspace:)`` into `out` (same shape as `x`).
    public static func softmax(_ x: Tensor, scale: Float = 1, into out: inout Tensor) throws(TensorError) {
        guard let cols = x.shape.last else { throw .shapeMismatch(operation: "softmax", expected: "[..., n]", actual: x.shape) }
        try requireNonEmpty(x, "softmax")
        try prepare(&out, shape: x.shape, operation: "softmax")
        let xc = x.contiguous()
        let rows = x.count / cols, src = xc.elementPointer, dst = out.elementPointer
        withExtendedLifetime(xc) {
            Parallel.forEach(rows, grain: Swift.max(1, 8192 / cols)) { r in
                dk_softmax_rows(src + r.lowerBound * cols, cols, dst + r.lowerBound * cols, cols, r.count, cols, scale)
            }
        }
    }
}
