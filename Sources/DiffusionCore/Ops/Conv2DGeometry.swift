/// The sizes of one convolution call, validated: every extent ≥ 1, the kernel fits the padded input, and every
/// count the kernels form is within 32-bit BLAS range.
struct Conv2DGeometry: Equatable {
    let batch: Int
    let inChannels: Int
    let height: Int
    let width: Int
    let outChannels: Int
    let kernelHeight: Int
    let kernelWidth: Int
    let strideY: Int
    let strideX: Int
    let padding: Conv2DPadding
    let outHeight: Int
    let outWidth: Int

    var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
    var inputPlane: Int { height * width }
    var outputPlane: Int { outHeight * outWidth }

    /// True for a 1×1, stride-1, unpadded convolution: a plain GEMM on the input, no copy.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideY == 1 && strideX == 1 && padding == .zero
    }

    /// True for a 3×3, stride-1 convolution: the shapes Winograd F(4×4, 3×3) computes.
    var isWinogradCandidate: Bool {
        kernelHeight == 3 && kernelWidth == 3 && strideY == 1 && strideX == 1
    }

    /// Whether `algorithm` runs this geometry through Winograd.
    func usesWinograd(_ algorithm: Conv2DAlgorithm) -> Bool {
        guard isWinogradCandidate else { return false }
        switch algorithm {
        case .gemm: return false
        case .winograd: return true
        case .automatic: return ConvPlanner.prefersWinograd(self)
        }
    }

    init(input shape: [Int], weight w: [Int], options: Conv2DOptions) throws(TensorError) {
        let op = "conv2d"
        let limit = Int(Int32.max)
        guard w.count == 4 else {
            throw .shapeMismatch(operation: "conv2d weight", expected: "[C_out, C_in, k_h, k_w]", actual: w)
        }
        guard w.allSatisfy({ $0 >= 1 }) else { throw .emptyTensor(operation: "conv2d weight", shape: w) }
        guard w.allSatisfy({ $0 <= limit }) else { throw .dimensionTooLarge(operation: op, dimension: w.max() ?? 0) }
        let p = options.padding
        let bound = 1 << 24
        guard options.strideY >= 1, options.strideX >= 1, options.strideY <= bound, options.strideX <= bound else {
            throw .invalidArgument(operation: op, reason: "stride must be between 1 and \(bound), got (\(options.strideY), \(options.strideX))")
        }
        for side in [p.top, p.left, p.bottom, p.right] where side < 0 || side > bound {
            throw .invalidArgument(operation: op, reason: "padding must be between 0 and \(bound), got \(side)")
        }
        guard shape.count == 4 else {
            throw .shapeMismatch(operation: op, expected: "[N, \(w[1]), H, W]", actual: shape)
        }
        guard shape.allSatisfy({ $0 >= 1 }) else { throw .emptyTensor(operation: op, shape: shape) }
        guard shape[1] == w[1] else {
            throw .shapeMismatch(operation: op, expected: "[N, \(w[1]), H, W] (the weight's C_in)", actual: shape)
        }
        if let big = shape.first(where: { $0 > limit }) { throw .dimensionTooLarge(operation: op, dimension: big) }
        let paddedH = shape[2] + p.top + p.bottom  // every term ≤ Int32.max: no overflow
        let paddedW = shape[3] + p.left + p.right
        guard paddedH >= w[2], paddedW >= w[3] else {
            throw .invalidArgument(operation: op, reason: "kernel \(w[2])×\(w[3]) is larger than the padded input \(paddedH)×\(paddedW)")
        }
        batch = shape[0]
        inChannels = shape[1]
        height = shape[2]
        width = shape[3]
        outChannels = w[0]
        kernelHeight = w[2]
        kernelWidth = w[3]
        strideY = options.strideY
        strideX = options.strideX
        padding = p
        outHeight = (paddedH - w[2]) / strideY + 1
        outWidth = (paddedW - w[3]) / strideX + 1
        // Whole tensors must fit in Int (bytes included); per-image planes, im2col rows and padded extents
        // in 32-bit BLAS / C int arithmetic.
        func product(_ dims: [Int]) -> Int? {
            var r = 1
            for d in dims {
                let (q, overflow) = r.multipliedReportingOverflow(by: d)
                if overflow { return nil }
                r = q
            }
            return r
        }
        let checks: [([Int], Int)] = [
            (shape, Int.max / 8), ([batch, outChannels, outHeight, outWidth], Int.max / 8),
            ([height, width], limit), ([outHeight + 4, outWidth + 4], limit),
            ([inChannels, kernelHeight, kernelWidth], limit), ([paddedH + 8], limit), ([paddedW + 8], limit),
        ]
        for (dims, max) in checks {
            guard let n = product(dims), n <= max else {
                throw .dimensionTooLarge(operation: op, dimension: product(dims) ?? Int.max)
            }
        }
    }
}
