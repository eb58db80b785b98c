import CDiffusionKernels

/// The activation functions of SD-family networks, with torch's definitions.
public enum Activation: String, Sendable, Equatable, CaseIterable {
    /// No activation.
    case none
    /// `x·σ(x)` (torch `F.silu`; UNet resnets and time embeddings).
    case silu
    /// `x·½·(1 + erf(x/√2))` (torch `F.gelu`, exact form; GEGLU in SD UNets).
    case geluErf
    /// `½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (torch `F.gelu(approximate="tanh")`).
    case geluTanh
    /// `x·σ(1.702·x)` (CLIP ViT-L/14's `quick_gelu`).
    case quickGELU
    /// `max(x, 0)` (torch `F.relu`; TAESD).
    case relu

    var kernel: dk_activation {
        switch self {
        case .none: DK_ACT_NONE
        case .silu: DK_ACT_SILU
        case .geluErf: DK_ACT_GELU_ERF
        case .geluTanh: DK_ACT_GELU_TANH
        case .quickGELU: DK_ACT_QUICK_GELU
        case .relu: DK_ACT_RELU
        }
    }
}

extension Ops {
    /// Applies `activation` element-wise. Any shape.
    /// - Throws: ``TensorError/emptyTensor(operation:shape:)``.
    public static func activation(_ x: Tensor, _ activation: Activation, workspace: Workspace? = nil) throws(TensorError) -> Tensor {
        var out = makeOutput(x.shape, workspace)
        try Ops.activation(x, activation, into: &out)
        return out
    }

    /// Applies `activation` element-wise into `out` (same shape as `x`).
    public static func activation(_ x: Tensor, _ activation: Activation, into out: inout Tensor) throws(TensorError) {
        try requireNonEmpty(x, "activation")
        try prepare(&out, shape: x.shape, operation: "activation")
        let xc = x.contiguous()
        let src = xc.elementPointer, dst = out.elementPointer, act = activation.kernel
        withExtendedLifetime(xc) {
            Parallel.forEach(xc.count, grain: 1 << 14) { r in
                dk_activation_apply(src + r.lowerBound, dst + r.lowerBound, r.count, act)
            }
        }
    }

    /// Applies `activation` to `x` in place. Any shape.
    public static func applyActivation(_ activation: Activation, to x: inout Tensor) throws(TensorError) {
        try requireNonEmpty(x, "activation")
        x.makeUniqueAndContiguous()
        let p = x.elementPointer, act = activation.kernel
        Parallel.forEach(x.count, grain: 1 << 14) { r in dk_activation_apply(p + r.lowerBound, p + r.lowerBound, r.count, act) }
    }

    /// GEGLU: the last axis of `x` (`[..., 2·inner]`, a projection's output) splits into value and gate halves,
    /// and the result is `value · gelu(gate)` with shape `[..., inner]` (diffusers `GEGLU`).
    /// - Parameter gate: ``Activation/geluErf`` (diffusers' default) or ``Activation/geluTanh``.
    /// - Throws: ``TensorError/shapeMismatch(operation:expected:actual:)`` for an odd last axis.
    public static func geglu(_ x: Tensor, gate: Activation = .geluErf, workspace: Workspace? = nil) throws(TensorError) -> Tensor {
        guard let last = x.shape.last, last % 2 == 0 else {
            throw .shapeMismatch(operation: "geglu", expected: "[..., 2·inner]", actual: x.shape)
        }
        var out = makeOutput(Array(x.shape.dropLast()) + [last / 2], workspace)
        try geglu(x, gate: gate, into: &out)
        return out
    }

    /// GEGLU into `out` (`[..., inner]`).
    public static func geglu(_ x: Tensor, gate: Activation = .geluErf, into out: inout Tensor) throws(TensorError) {
        try requireNonEmpty(x, "geglu")
        guard let last = x.shape.last, last % 2 == 0 else {
            throw .shapeMismatch(operation: "geglu", expected: "[..., 2·inner]", actual: x.shape)
        }
        guard gate == .geluErf || gate == .geluTanh else {
            throw .invalidArgument(operation: "geglu", reason: "the gate activation must be a GELU, got \(gate)")
        }
        try prepare(&out, shape: Array(x.shape.dropLast()) + [last / 2], operation: "geglu")
        let xc = x.contiguous()
        let inner = last / 2, rows = xc.count / last
        let src = xc.elementPointer, dst = out.elementPointer, act = gate.kernel
        withExtendedLifetime(xc) {
            Parallel.forEach(rows, grain: Swift.max(1, 8192 / inner)) { r in
                dk_geglu_rows(src + r.lowerBound * last, last, dst + r.lowerBound * inner, inner, r.count, inner, act)
            }
        }
    }
}
