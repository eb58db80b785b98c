import CDiffusionKernels

extension Ops {
    /// Residual add, `(a + b) · scale` element-wise (`scale` is `1 / output_scale_factor` of diffusers' resnets and
    /// attention blocks; 1 skips the multiply). Any shape; `a` and `b` have the same shape.
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)``, ``TensorError/emptyTensor(operation:shape:)``.
    public static func add(_ a: Tensor, _ b: Tensor, scale: Float = 1, workspace: Workspace? = nil) throws(TensorError) -> Tensor {
        var out = makeOutput(a.shape, workspace)
        try add(a, b, scale: scale, into: &out)
        return out
    }

    /// ``add(_:_:scale:workspace:)`` into `out` (same shape).
    public static func add(_ a: Tensor, _ b: Tensor, scale: Float = 1, into out: inout Tensor) throws(TensorError) {
        guard a.shape == b.shape else { throw .shapeMismatch(operation: "add", expected: "\(a.shape)", actual: b.shape) }
        try requireNonEmpty(a, "add")
        try prepare(&out, shape: a.shape, operation: "add")
        let ac = a.contiguous(), bc = b.contiguous()
        let pa = ac.elementPointer, pb = bc.elementPointer, po = out.elementPointer
        withExtendedLifetime((ac, bc)) {
            Parallel.forEach(ac.count, grain: 1 << 15) { r in
                dk_add(pa + r.lowerBound, pb + r.lowerBound, po + r.lowerBound, r.count, scale)
            }
        }
    }

    /// Adds `residual` to `x` in place: `x = (x + residual) · scale`. Same shapes.
    public static func add(_ residual: Tensor, to x: inout Tensor, scale: Float = 1) throws(TensorError) {
        guard x.shape == residual.shape else { throw .shapeMismatch(operation: "add", expected: "\(x.shape)", actual: residual.shape) }
        try requireNonEmpty(x, "add")
        x.makeUniqueAndContiguous()
        let rc = residual.contiguous()
        let px = x.elementPointer, pr = rc.elementPointer
        withExtendedLifetime(rc) {
            Parallel.forEach(rc.count, grain: 1 << 15) { r in
                dk_add(px + r.lowerBound, pr + r.lowerBound, px + r.lowerBound, r.count, scale)
            }
        }
    }
}
