/// The arithmetic a convolution runs on.
public enum Conv2DAlgorithm: Sendable, Equatable {
    /// Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions with enough channels, GEMM otherwise.
    case automatic
    /// im2col + GEMM (a plain GEMM on the input for unpadded 1×1 stride-1 convolutions).
    case gemm
    /// Winograd F(4×4, 3×3) where the shape allows it (3×3, stride 1), GEMM otherwise.
    case winograd
}

/// Padding of a 2-D convolution, in zero pixels added on each side of the input.
public struct Conv2DPadding: Sendable, Equatable, Hashable {
    public var top: Int
    public var left: Int
    public var bottom: Int
    public var right: Int

    /// Different padding on each side (diffusers' VAE `Downsample2D` pads right and bottom only:
    /// `Conv2DPadding(top: 0, left: 0, bottom: 1, right: 1)` with stride 2).
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top
        self.left = left
        self.bottom = bottom
        self.right = right
    }

    /// The same padding on all four sides, as `torch.nn.Conv2d(padding: p)`.
    public init(_ all: Int) {
        self.init(top: all, left: all, bottom: all, right: all)
    }

    /// No padding.
    public static let zero = Conv2DPadding(0)
}

/// Stride, padding and algorithm of a 2-D convolution.
public struct Conv2DOptions: Sendable, Equatable {
    /// Vertical stride (≥ 1).
    public var strideY: Int
    /// Horizontal stride (≥ 1).
    public var strideX: Int
    /// Zero padding on each side (≥ 0).
    public var padding: Conv2DPadding
    /// Which arithmetic to use; ``Conv2DAlgorithm/automatic`` unless a test or benchmark forces one.
    public var algorithm: Conv2DAlgorithm

    /// The same stride on both axes and the same padding on all sides (torch `Conv2d(stride:, padding:)`).
    public init(stride: Int = 1, padding: Int = 0, algorithm: Conv2DAlgorithm = .automatic) {
        self.init(strideY: stride, strideX: stride, padding: Conv2DPadding(padding), algorithm: algorithm)
    }

    /// Per-axis stride and per-side padding.
    public init(strideY: Int, strideX: Int, padding: Conv2DPadding, algorithm: Conv2DAlgorithm = .automatic) {
        self.strideY = strideY
        self.strideX = strideX
        self.padding = padding
        self.algorithm = algorithm
    }
}

extension Ops {
    /// A 2-D convolution: cross-correlation as `torch.nn.functional.conv2d` (`groups = 1`, `dilation = 1`).
    ///
    /// - Parameters:
    ///   - x: `[N, C_in, H, W]` (NCHW).
    ///   - weight: `[C_out, C_in, k_h, k_w]` (PyTorch layout; F32, F16 or BF16; half-precision weights are
    ///     widened inside the kernels).
    ///   - bias: `[C_out]`, or nil.
    ///   - options: stride, padding, algorithm.
    ///   - workspace: where the scratch memory (transformed weights and tiles, im2col panels) comes from.
    /// - Returns: `[N, C_out, H_out, W_out]` with `H_out = (H + pad_top + pad_bottom − k_h) / stride_y + 1`
    ///   (likewise for W).
    /// - Throws: ``TensorError`` for a weight that is not rank 4, a bias that is not `[C_out]`, an input that is
    ///   not rank 4 or has a zero-sized axis or the wrong channel count, a kernel larger than the padded input,
    ///   a stride below 1 or a negative padding, and extents beyond the kernels' 32-bit range.
    ///
    /// 3×3 stride-1 convolutions run through Winograd F(4×4, 3×3) (≤ 1e-4 relative to the exact result);
    /// other shapes through GEMM, with no copy of the input for unpadded 1×1 stride-1 convolutions.
    public static func conv2d(
        _ x: Tensor, weight: WeightMatrix, bias: Tensor? = nil, options: Conv2DOptions = Conv2DOptions(),
        workspace: Workspace? = nil
    ) throws(TensorError) -> Tensor {
        let g = try Conv2DGeometry(input: x.shape, weight: weight.shape, options: options)
        var out = makeOutput(g.outputShape, workspace)
        try conv2d(x, weight: weight, bias: bias, options: options, into: &out, workspace: workspace)
        return out
    }

    /// ``conv2d(_:weight:bias:options:workspace:)`` into `out` (`[N, C_out, H_out, W_out]`). With
    /// `accumulate`, the convolution is added to what `out` holds (`out += conv(x) + b`: a residual add in the
    /// convolution's own output pass). `out` is not written when an error is thrown.
    public static func conv2d(
        _ x: Tensor, weight: WeightMatrix, bias: Tensor? = nil, options: Conv2DOptions = Conv2DOptions(),
        accumulate: Bool = false, into out: inout Tensor, workspace: Workspace? = nil
    ) throws(TensorError) {
        let g = try Conv2DGeometry(input: x.shape, weight: weight.shape, options: options)
        if let bias, bias.shape != [g.outChannels] {
            throw .shapeMismatch(operation: "conv2d bias", expected: "[\(g.outChannels)]", actual: bias.shape)
        }
        try prepare(&out, shape: g.outputShape, operation: "conv2d")
        let xc = x.contiguous()
        let bc = bias?.contiguous()
        let y = out.elementPointer
        withExtendedLifetime((xc, bc)) {
            let b = bc.map { UnsafePointer($0.elementPointer) }
            if g.usesWinograd(options.algorithm) {
                WinogradConv.run(g, input: xc.elementPointer, weight: weight, bias: b, output: y, workspace: workspace,
                                 accumulate: accumulate)
            } else {
                GEMMConv.run(g, input: xc.elementPointer, weight: weight, bias: b, output: y, workspace: workspace,
                             accumulate: accumulate)
            }
        }
    }

    /// The output shape of ``conv2d(_:weight:bias:options:workspace:)`` for an input and weight shape.
    /// - Throws: the shape errors of ``conv2d(_:weight:bias:options:workspace:)``.
    public static func conv2dOutputShape(input: [Int], weight: [Int], options: Conv2DOptions = Conv2DOptions())
        throws(TensorError) -> [Int]
    {
        try Conv2DGeometry(input: input, weight: weight, options: options).outputShape
    }
}
