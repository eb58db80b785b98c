import CDiffusionKernels

extension Ops {
    /// Group normalisation (torch `nn.GroupNorm`), optionally followed by SiLU in the same pass.
    ///
    /// - Parameters:
    ///   - x: `NCHW` (or any `[N, C, ...]`): each group of `C / groups` channels of one image is normalised over
    ///     its channels and positions with the biased variance.
    ///   - groups: the group count (32 in SD-family UNets and VAEs); must divide `C`.
    ///   - weight, bias: `[C]` affine parameters (nil: 1 and 0).
    ///   - eps: added to the variance (1e-5 in UNets, 1e-6 in VAEs).
    ///   - activation: `.none` or ``Activation/silu`` (fused), or any other ``Activation``.
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` for rank < 2 or affine parameters of
    ///   the wrong size, ``TensorError/invalidArgument(operation:reason:)`` when `groups` does not divide `C`.
    public static func groupNorm(
        _ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
        activation: Activation = .none, workspace: Workspace? = nil
    ) throws(TensorError) -> Tensor {
        var out = makeOutput(x.shape, workspace)
        try groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation, into: &out)
        return out
    }

    /// ``groupNorm(_:groups:weight:bias:eps:activation:workspace:)`` into `out` (same shape as `x`).
    public static func groupNorm(
        _ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
        activation: Activation = .none, into out: inout Tensor
    ) throws(TensorError) {
        try checkGroupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps)
        try prepare(&out, shape: x.shape, operation: "groupNorm")
        let xc = x.contiguous()
        withExtendedLifetime(xc) {
            runGroupNorm(xc.elementPointer, out.elementPointer, shape: x.shape, groups: groups, weight: weight, bias: bias,
                         eps: eps, activation: activation)
        }
    }

    /// ``groupNorm(_:groups:weight:bias:eps:activation:workspace:)`` in place: `x` is normalised (and
    /// activated) where it lies, so a model that no longer needs the un-normalised map saves a buffer.
    public static func groupNorm(
        inPlace x: inout Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5,
        activation: Activation = .none
    ) throws(TensorError) {
        try checkGroupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps)
        x.makeUniqueAndContiguous()
        runGroupNorm(x.elementPointer, x.elementPointer, shape: x.shape, groups: groups, weight: weight, bias: bias,
                     eps: eps, activation: activation)
    }

    /// The argument checks of the GroupNorm forms.
    static func checkGroupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float) throws(TensorError) {
        guard x.rank >= 2 else { throw .shapeMismatch(operation: "groupNorm", expected: "[N, C, ...] (NCHW)", actual: x.shape) }
        try requireNonEmpty(x, "groupNorm")
        let channels = x.shape[1]
        guard groups > 0, channels % groups == 0 else {
            throw .invalidArgument(operation: "groupNorm", reason: "\(groups) groups do not divide \(channels) channels")
        }
        guard eps.isFinite, eps >= 0 else { throw .invalidArgument(operation: "groupNorm", reason: "eps \(eps) is not a finite non-negative value") }
        for p in [weight, bias] { if let p, p.shape != [channels] {
            throw .shapeMismatch(operation: "groupNorm affine parameter", expected: "[\(channels)]", actual: p.shape)
        } }
    }

    /// GroupNorm of a contiguous `[N, C, ...]` map at `src` into `dst` (the same buffer allowed), whole groups per
    /// task (each group read once for its moments, once to normalise), split over the cores by bytes
    /// (``normalizationChunks(tasks:taskBytes:serialBytes:)``; `serialBytes` 0 splits any map, for tests).
    static func runGroupNorm(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: [Int], groups: Int,
                             weight: Tensor?, bias: Tensor?, eps: Float, activation: Activation,
                             serialBytes: Int = normalizationSerialBytes) {
        let wc = weight?.contiguous(), bc = bias?.contiguous()
        let batch = shape[0], channels = shape[1], plane = shape.reduce(1, *) / (batch * channels)
        let perGroup = channels / groups, act = activation.kernel
        let chunks = normalizationChunks(tasks: batch * groups, taskBytes: perGroup * plane * MemoryLayout<Float>.size,
                                         serialBytes: serialBytes)
        withExtendedLifetime((wc, bc)) {
            let w = wc.map { UnsafePointer($0.elementPointer) }, b = bc.map { UnsafePointer($0.elementPointer) }
            Parallel.forEachChunk(batch * groups, chunks: chunks) { _, r in
                for task in r {
                    let g = task % groups
                    let offset = (task / groups) * channels * plane + g * perGroup * plane
                    dk_group_norm_group(src + offset, dst + offset, perGroup, plane,
                                        w.map { $0 + g * perGroup }, b.map { $0 + g * perGroup }, eps, act)
                }
            }
        }
    }

    /// Layer normalisation over the last axis (torch `nn.LayerNorm(C)`).
    ///
    /// - Parameters:
    ///   - x: `[..., C]`: `[tokens, C]` or `[batch, tokens, C]` sequences.
    ///   - weight, bias: `[C]` (nil: 1 and 0).
    ///   - eps: added to the biased variance (1e-5 in CLIP and SD transformer blocks).
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` for parameters of the wrong size.
    public static func layerNorm(
        _ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, workspace: Workspace? = nil
    ) throws(TensorError) -> Tensor {
        var out = makeOutput(x.shape, workspace)
        try layerNorm(x, weight: weight, bias: bias, eps: eps, into: &out)
        return out
    }

    /// ``layerNorm(_:weight:bias:eps:workspace:)`` into `out` (same shape as `x`).
    public static func layerNorm(
        _ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, into out: inout Tensor
    ) throws(TensorError) {
        guard let cols = x.shape.last else { throw .shapeMismatch(operation: "layerNorm", expected: "[..., C]", actual: x.shape) }
        try requireNonEmpty(x, "layerNorm")
        guard eps.isFinite, eps >= 0 else { throw .invalidArgument(operation: "layerNorm", reason: "eps \(eps) is not a finite non-negative value") }
        for p in [weight, bias] { if let p, p.shape != [cols] {
            throw .shapeMismatch(operation: "layerNorm affine parameter", expected: "[\(cols)]", actual: p.shape)
        } }
        try prepare(&out, shape: x.shape, operation: "layerNorm")
        let xc = x.contiguous(), wc = weight?.contiguous(), bc = bias?.contiguous()
        let rows = x.count / cols
        let src = xc.elementPointer, dst = out.elementPointer
        let chunks = normalizationChunks(tasks: rows, taskBytes: cols * MemoryLayout<Float>.size)
        withExtendedLifetime((xc, wc, bc)) {
            let w = wc.map { UnsafePointer($0.elementPointer) }, b = bc.map { UnsafePointer($0.elementPointer) }
            Parallel.forEachChunk(rows, chunks: chunks) { _, r in
                dk_layer_norm_rows(src + r.lowerBound * cols, cols, dst + r.lowerBound * cols, cols, r.count, cols, w, b, eps)
            }
        }
    }

    /// A map smaller than this (bytes read) is normalised on the calling thread: one core passes GroupNorm+SiLU at
    /// ≈ 20 GB/s (LayerNorm ≈ 35 GB/s), so below 2 MB half the pass is ≈ 50 µs or less, the order of waking a
    /// second core, and the split saves nothing (`ops-bench --norm-serial-bytes`; Docs/benchmarks.md).
    nonisolated(unsafe) package static var normalizationSerialBytes = 2 << 20
    /// Each chunk of a larger map reads at least this many bytes.
    static let normalizationChunkBytes = 1 << 20

    /// How many chunks a memory-bound pass over `tasks` items of `taskBytes` each is split into: one below
    /// `serialBytes`; else a multiple of the worker count (so the cores get equal shares), at most four per worker,
    /// each at least ``normalizationChunkBytes``.
    static func normalizationChunks(tasks: Int, taskBytes: Int, serialBytes: Int = normalizationSerialBytes) -> Int {
        let workers = Parallel.workerCount, total = tasks * taskBytes
        guard workers > 1, tasks > 1, total >= serialBytes else { return 1 }
        var perWorker = 4
        while perWorker > 1 && total / (workers * perWorker) < normalizationChunkBytes { perWorker -= 1 }
        return Swift.min(tasks, workers * perWorker)
    }
}
