import LoRAKit

/// A linear layer `y = act(x·Wᵀ + b)` over `[..., in]` sequences, its weight mapped from the file, and the
/// LoRAs applied at run time beside it (``LowRankAdapter``), if any.
struct LinearLayer {
    let weight: WeightMatrix
    let bias: Tensor?
    let adapters: [LowRankAdapter]

    init(_ w: ComponentWeights, _ prefix: String, in inputs: Int, out outputs: Int, bias hasBias: Bool = true) throws {
        weight = try w.matrix("\(prefix).weight", shape: [outputs, inputs])
        bias = hasBias ? try w.vector("\(prefix).bias", count: outputs) : nil
        adapters = w.adapters(for: "\(prefix).weight")
    }

    /// A linear layer whose file holds either `[out, in]` or the `[out, in, 1, 1]` of a 1×1 convolution.
    init(pointwise w: ComponentWeights, _ prefix: String, in inputs: Int, out outputs: Int, bias hasBias: Bool = true) throws {
        weight = try w.pointwise("\(prefix).weight", out: outputs, in: inputs)
        bias = hasBias ? try w.vector("\(prefix).bias", count: outputs) : nil
        adapters = w.adapters(for: "\(prefix).weight")
    }

    /// `act(x·Wᵀ + b)` plus the run-time LoRAs, its output (and widened weight scratch) from `workspace` when
    /// given.
    func callAsFunction(_ x: Tensor, activation: Activation = .none, workspace: Workspace? = nil) throws -> Tensor {
        try LayerTiming.measure(timingKind(x)) {
            guard !adapters.isEmpty else {
                return try Ops.linear(x, weight: weight, bias: bias, activation: activation, workspace: workspace)
            }
            var y = try Ops.linear(x, weight: weight, bias: bias, workspace: workspace)
            for adapter in adapters { try adapter.addLinear(x, into: &y, workspace: workspace) }
            if activation != .none { try Ops.applyActivation(activation, to: &y) }
            return y
        }
    }

    func timingKind(_ x: Tensor) -> String { "linear \(x.count / weight.columns)×\(weight.columns)→\(weight.rows)" }

    /// `residual + x·Wᵀ + b`, the add folded into the product.
    func accumulating(_ x: Tensor, onto residual: Tensor) throws -> Tensor {
        var out = residual.contiguous()
        out.withUnsafeMutableBufferPointer { _ in }  // own the storage before the product writes into it
        try accumulate(x, into: &out)
        return out
    }

    /// `out += x·Wᵀ + b` (plus the run-time LoRAs) in place: the residual add folded into the product; `out`
    /// should be uniquely owned, or it is copied first.
    func accumulate(_ x: Tensor, into out: inout Tensor, workspace: Workspace? = nil) throws {
        try LayerTiming.measure(timingKind(x)) {
            try Ops.linear(x, weight: weight, bias: bias, accumulate: true, into: &out, workspace: workspace)
            for adapter in adapters { try adapter.addLinear(x, into: &out, workspace: workspace) }
        }
    }

    /// Channel-major `[B, in, T]` (an NCHW map seen as `[B, C, H·W]`) → token-major `[B, T, out]`.
    func fromChannelMajor(_ x: Tensor, workspace: Workspace?) throws -> Tensor {
        let (b, t) = (x.shape[0], x.shape[2])
        var out = try workspace?.tensor(shape: [b, t, weight.rows]) ?? Tensor(shape: [b, t, weight.rows])
        try LayerTiming.measure("linear \(b * t)×\(weight.columns)→\(weight.rows)") {
            try Ops.linear(channelMajor: x, weight: weight, bias: bias, into: &out, workspace: workspace)
            for adapter in adapters {
                var reduced = try workspace?.tensor(shape: [b, t, adapter.rank]) ?? Tensor(shape: [b, t, adapter.rank])
                try Ops.linear(channelMajor: x, weight: adapter.down, into: &reduced, workspace: workspace)
                try Ops.linear(reduced, weight: adapter.up, accumulate: true, into: &out, workspace: workspace)
                workspace?.recycle(&reduced)
            }
        }
        return out
    }

    /// Token-major `[B, T, in]` added to the channel-major `out` `[B, out, H, W]` (`H·W = T`) in place.
    func accumulateToChannelMajor(_ x: Tensor, into out: inout Tensor, workspace: Workspace?) throws {
        try LayerTiming.measure(timingKind(x)) {
            try Ops.linear(toChannelMajor: x, weight: weight, bias: bias, accumulate: true, into: &out, workspace: workspace)
            for adapter in adapters {
                var reduced = try Ops.linear(x, weight: adapter.down, workspace: workspace)
                try Ops.linear(toChannelMajor: reduced, weight: adapter.up, accumulate: true, into: &out, workspace: workspace)
                workspace?.recycle(&reduced)
            }
        }
    }
}

/// A 2-D convolution layer (NCHW), its weights taken from the file at their stored precision, and the LoRAs
/// applied at run time beside it (``LowRankAdapter``), if any.
struct ConvLayer {
    let weight: WeightMatrix
    let bias: Tensor?
    let options: Conv2DOptions
    let adapters: [LowRankAdapter]

    init(_ w: ComponentWeights, _ prefix: String, in inputs: Int, out outputs: Int, kernel: Int, stride: Int,
         padding: Conv2DPadding, bias hasBias: Bool = true) throws {
        weight = try w.matrix("\(prefix).weight", shape: [outputs, inputs, kernel, kernel])
        bias = hasBias ? try w.vector("\(prefix).bias", count: outputs) : nil
        options = Conv2DOptions(strideY: stride, strideX: stride, padding: padding)
        adapters = w.adapters(for: "\(prefix).weight")
    }

    func callAsFunction(_ x: Tensor, activation: Activation = .none, workspace: Workspace? = nil) throws -> Tensor {
        var y = try LayerTiming.measure(timingKind(x)) {
            try Ops.conv2d(x, weight: weight, bias: bias, options: options, workspace: workspace)
        }
        for adapter in adapters { try adapter.addConv(x, options: options, into: &y, workspace: workspace) }
        if activation != .none { try Ops.applyActivation(activation, to: &y) }
        return y
    }

    /// The convolution of `x` with `bias` in place of the layer's own (a per-call bias: the layer's plus a
    /// time-embedding projection), into a buffer from `workspace`.
    func callAsFunction(_ x: Tensor, bias callBias: Tensor?, workspace: Workspace?) throws -> Tensor {
        let shape = try Ops.conv2dOutputShape(input: x.shape, weight: weight.shape, options: options)
        var y = try workspace?.tensor(shape: shape) ?? Tensor(shape: shape)
        try LayerTiming.measure(timingKind(x)) {
            try Ops.conv2d(x, weight: weight, bias: callBias, options: options, into: &y, workspace: workspace)
            for adapter in adapters { try adapter.addConv(x, options: options, into: &y, workspace: workspace) }
        }
        return y
    }

    /// `out += conv(x) + b` (plus the run-time LoRAs) in place: a residual add in the convolution's output pass.
    func accumulate(_ x: Tensor, into out: inout Tensor, workspace: Workspace?) throws {
        try LayerTiming.measure(timingKind(x)) {
            try Ops.conv2d(x, weight: weight, bias: bias, options: options, accumulate: true, into: &out, workspace: workspace)
            for adapter in adapters { try adapter.addConv(x, options: options, into: &out, workspace: workspace) }
        }
    }
}

extension ConvLayer {
    func timingKind(_ x: Tensor) -> String {
        let k = weight.shape[2], s = options.strideY
        return "conv\(k)×\(k)\(s > 1 ? " s\(s)" : "") \(weight.shape[1])→\(weight.rows) @\(x.shape[0])×\(x.shape[2])×\(x.shape[3])"
    }
}

/// GroupNorm over NCHW maps, with an optional fused activation.
struct GroupNormLayer {
    let weight: Tensor
    let bias: Tensor
    let groups: Int
    let eps: Float

    init(_ w: ComponentWeights, _ prefix: String, channels: Int, groups: Int, eps: Float) throws {
        weight = try w.vector("\(prefix).weight", count: channels)
        bias = try w.vector("\(prefix).bias", count: channels)
        self.groups = groups
        self.eps = eps
    }

    func callAsFunction(_ x: Tensor, activation: Activation = .none, workspace: Workspace? = nil) throws -> Tensor {
        try LayerTiming.measure("groupnorm") {
            try Ops.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation,
                              workspace: workspace)
        }
    }

    /// Normalises (and activates) `x` where it lies.
    func apply(to x: inout Tensor, activation: Activation = .none) throws {
        try LayerTiming.measure("groupnorm") {
            try Ops.groupNorm(inPlace: &x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation)
        }
    }
}

/// LayerNorm over the last axis of `[..., C]` sequences.
struct LayerNormLayer {
    let weight: Tensor
    let bias: Tensor
    let eps: Float

    init(_ w: ComponentWeights, _ prefix: String, dim: Int, eps: Float) throws {
        weight = try w.vector("\(prefix).weight", count: dim)
        bias = try w.vector("\(prefix).bias", count: dim)
        self.eps = eps
    }

    func callAsFunction(_ x: Tensor, workspace: Workspace? = nil) throws -> Tensor {
        try LayerTiming.measure("layernorm") { try Ops.layerNorm(x, weight: weight, bias: bias, eps: eps, workspace: workspace) }
    }

    /// The normalisation of `x` into `out` (same shape; a reused buffer).
    func callAsFunction(_ x: Tensor, into out: inout Tensor) throws {
        try LayerTiming.measure("layernorm") { try Ops.layerNorm(x, weight: weight, bias: bias, eps: eps, into: &out) }
    }
}
