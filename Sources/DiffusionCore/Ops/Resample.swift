import CDiffusionKernels

extension Ops {
    /// Nearest-neighbour ×2 upsampling (torch `F.interpolate(x, scale_factor=2, mode="nearest")`, diffusers'
    /// `Upsample2D` before its convolution). `x` is `NCHW`; the result is `[N, C, 2H, 2W]`.
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` unless rank 4,
    ///   ``TensorError/emptyTensor(operation:shape:)``.
    public static func upsampleNearest2x(_ x: Tensor, workspace: Workspace? = nil) throws(TensorError) -> Tensor {
        try requireRank(x, 4, "upsampleNearest2x", "[N, C, H, W]")
        let shape = [x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3]]
        _ = try Tensor.elementCount(of: shape)
        var out = makeOutput(shape, workspace)
        try upsampleNearest2x(x, into: &out)
        return out
    }

    /// ``upsampleNearest2x(_:workspace:)`` into `out` (`[N, C, 2H, 2W]`).
    public static func upsampleNearest2x(_ x: Tensor, into out: inout Tensor) throws(TensorError) {
        try requireRank(x, 4, "upsampleNearest2x", "[N, C, H, W]")
        try requireNonEmpty(x, "upsampleNearest2x")
        let (h, w) = (x.shape[2], x.shape[3])
        try prepare(&out, shape: [x.shape[0], x.shape[1], 2 * h, 2 * w], operation: "upsampleNearest2x")
        let xc = x.contiguous()
        let src = xc.elementPointer, dst = out.elementPointer
        withExtendedLifetime(xc) {
            Parallel.forEach(x.shape[0] * x.shape[1], grain: Swift.max(1, 16384 / (h * w))) { r in
                dk_upsample_nearest2x(src + r.lowerBound * h * w, dst + r.lowerBound * 4 * h * w, r.count, h, w)
            }
        }
    }

    /// Concatenation along the channel axis (axis 1) of `NCHW` tensors (torch `torch.cat(xs, dim=1)`; the UNet's
    /// skip connections). Every input is `[N, Cᵢ, H, W]` with the same `N`, `H`, `W` (any rank ≥ 2 works the
    /// same way: all axes but 1 must agree).
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)``, ``TensorError/invalidArgument(operation:reason:)``
    ///   for an empty list.
    public static func concatChannels(_ xs: [Tensor], workspace: Workspace? = nil) throws(TensorError) -> Tensor {
        let shape = try concatShape(xs)
        var out = makeOutput(shape, workspace)
        try concatChannels(xs, into: &out)
        return out
    }

    /// ``concatChannels(_:workspace:)`` into `out` (`[N, ΣCᵢ, H, W]`).
    public static func concatChannels(_ xs: [Tensor], into out: inout Tensor) throws(TensorError) {
        let shape = try concatShape(xs)
        guard shape.reduce(1, *) > 0 else { throw .emptyTensor(operation: "concatChannels", shape: shape) }
        try prepare(&out, shape: shape, operation: "concatChannels")
        let batch = shape[0], inner = shape.dropFirst(2).reduce(1, *), total = shape[1] * inner
        var channelOffset = 0
        for x in xs {
            let xc = x.contiguous()
            let block = x.shape[1] * inner
            let src = xc.elementPointer, dst = out.elementPointer + channelOffset * inner
            withExtendedLifetime(xc) {
                Parallel.forEach(batch) { r in
                    for n in r { (dst + n * total).update(from: src + n * block, count: block) }
                }
            }
            channelOffset += x.shape[1]
        }
    }

    static func concatShape(_ xs: [Tensor]) throws(TensorError) -> [Int] {
        guard let first = xs.first else { throw .invalidArgument(operation: "concatChannels", reason: "no tensors to concatenate") }
        guard first.rank >= 2 else { throw .shapeMismatch(operation: "concatChannels", expected: "[N, C, ...]", actual: first.shape) }
        var channels = 0
        for x in xs {
            guard x.rank == first.rank, x.shape[0] == first.shape[0], x.shape.dropFirst(2) == first.shape.dropFirst(2) else {
                var expected = first.shape.map(String.init)
                expected[1] = "C"
                throw .shapeMismatch(operation: "concatChannels", expected: "[\(expected.joined(separator: ", "))]", actual: x.shape)
            }
            channels += x.shape[1]
        }
        var shape = first.shape
        shape[1] = channels
        _ = try Tensor.elementCount(of: shape)
        return shape
    }

    /// Swaps the last two axes: `[B, M, N]` → `[B, N, M]` (or `[M, N]` → `[N, M]`). Turns an `NCHW` feature map
    /// seen as `[N, C, H·W]` into the `[N, H·W, C]` token sequence of a transformer block, and back.
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` unless rank 2 or 3.
    public static func transposeLastTwo(_ x: Tensor, workspace: Workspace? = nil) throws(TensorError) -> Tensor {
        guard x.rank == 2 || x.rank == 3 else {
            throw .shapeMismatch(operation: "transposeLastTwo", expected: "[B, M, N] or [M, N]", actual: x.shape)
        }
        var shape = x.shape
        shape.swapAt(x.rank - 1, x.rank - 2)
        var out = makeOutput(shape, workspace)
        try transposeLastTwo(x, into: &out)
        return out
    }

    /// ``transposeLastTwo(_:workspace:)`` into `out`.
    public static func transposeLastTwo(_ x: Tensor, into out: inout Tensor) throws(TensorError) {
        guard x.rank == 2 || x.rank == 3 else {
            throw .shapeMismatch(operation: "transposeLastTwo", expected: "[B, M, N] or [M, N]", actual: x.shape)
        }
        try requireNonEmpty(x, "transposeLastTwo")
        var shape = x.shape
        shape.swapAt(x.rank - 1, x.rank - 2)
        try prepare(&out, shape: shape, operation: "transposeLastTwo")
        let m = x.shape[x.rank - 2], n = x.shape[x.rank - 1], batch = x.rank == 3 ? x.shape[0] : 1
        let xc = x.contiguous()
        let src = xc.elementPointer, dst = out.elementPointer
        // Split over (batch, 32-row band of the source) so both cores work on one image too.
        let bands = (m + 31) / 32
        withExtendedLifetime(xc) {
            Parallel.forEach(batch * bands) { r in
                for task in r {
                    let b = task / bands, r0 = (task % bands) * 32, rows = Swift.min(32, m - r0)
                    dk_transpose(src + b * m * n + r0 * n, n, dst + b * m * n + r0, m, rows, n)
                }
            }
        }
    }
}
