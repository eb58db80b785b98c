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

    func callAsFunction(_ x: Tensor, activation: Activation = .none) throws -> Tensor {
        guard !adapters.isEmpty else { return try Ops.linear(x, weight: weight, bias: bias, activation: activation) }
        var y = try Ops.linear(x, weight: weight, bias: bias)
        for adapter in adapters { try adapter.addLinear(x, into: &y) }
        if activation != .none { try Ops.applyActivation(activation, to: &y) }
        return y
    }

    /// `residual + x·Wᵀ + b`, the add folded into the product.
    func accumulating(_ x: Tensor, onto residual: Tensor) throws -> Tensor {
        var out = residual.contiguous()
        out.withUnsafeMutableBufferPointer { _ in }  // own the storage before the product writes into it
        try Ops.linear(x, weight: weight, bias: bias, accumulate: true, into: &out)
        for adapter in adapters { try adapter.addLinear(x, into: &out) }
        return out
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

    func callAsFunction(_ x: Tensor, activation: Activation = .none) throws -> Tensor {
        var y = try Ops.conv2d(x, weight: weight, bias: bias, options: options)
        for adapter in adapters { try adapter.addConv(x, options: options, into: &y) }
        if activation != .none { try Ops.applyActivation(activation, to: &y) }
        return y
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

    func callAsFunction(_ x: Tensor, activation: Activation = .none) throws -> Tensor {
        try Ops.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation)
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

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try Ops.layerNorm(x, weight: weight, bias: bias, eps: eps)
    }
}
