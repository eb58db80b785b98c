import Testing
@testable import DiffusionCore

/// Hostile shapes and settings are typed errors, never a trap, and leave the caller's output untouched.
@Suite("Conv2D errors")
struct Conv2DErrorTests {
    static func weight(_ shape: [Int] = [4, 3, 3, 3]) throws -> WeightMatrix {
        try WeightMatrix(Tensor(shape: shape, repeating: 0.5))
    }

    static func conv(_ x: [Int], _ w: [Int] = [4, 3, 3, 3], _ options: Conv2DOptions = Conv2DOptions(padding: 1)) throws {
        _ = try Ops.conv2d(Tensor(shape: x), weight: weight(w), options: options)
    }

    @Test("weights that are not [C_out, C_in, k_h, k_w] and biases that are not [C_out] are rejected")
    func badWeights() throws {
        #expect(throws: TensorError.shapeMismatch(operation: "conv2d weight", expected: "[C_out, C_in, k_h, k_w]", actual: [4, 27])) {
            try Self.conv([1, 3, 8, 8], [4, 27])
        }
        #expect(throws: TensorError.shapeMismatch(operation: "conv2d bias", expected: "[4]", actual: [3])) {
            _ = try Ops.conv2d(Tensor(shape: [1, 3, 8, 8]), weight: Self.weight(), bias: Tensor(shape: [3]))
        }
    }

    @Test("a stride below 1 or a negative padding is rejected")
    func badGeometry() {
        #expect(throws: TensorError.self) { try Self.conv([1, 3, 8, 8], [4, 3, 3, 3], Conv2DOptions(stride: 0)) }
        #expect(throws: TensorError.self) { try Self.conv([1, 3, 8, 8], [4, 3, 3, 3], Conv2DOptions(padding: -1)) }
        #expect(throws: TensorError.self) {
            try Self.conv([1, 3, 8, 8], [4, 3, 3, 3],
                          Conv2DOptions(strideY: 1, strideX: 1, padding: Conv2DPadding(top: 0, left: 0, bottom: Int.max, right: 0)))
        }
    }

    @Test("zero-sized, wrong-rank and mismatched inputs are rejected")
    func badInputs() {
        #expect(throws: TensorError.emptyTensor(operation: "conv2d", shape: [0, 3, 8, 8])) { try Self.conv([0, 3, 8, 8]) }
        #expect(throws: TensorError.emptyTensor(operation: "conv2d", shape: [1, 3, 0, 8])) { try Self.conv([1, 3, 0, 8]) }
        #expect(throws: TensorError.self) { try Self.conv([3, 8, 8]) }
        #expect(throws: TensorError.shapeMismatch(operation: "conv2d", expected: "[N, 3, H, W] (the weight's C_in)", actual: [1, 5, 8, 8])) {
            try Self.conv([1, 5, 8, 8])
        }
    }

    @Test("a kernel larger than the padded input is rejected; exactly fitting works")
    func kernelTooLarge() throws {
        #expect(throws: TensorError.invalidArgument(operation: "conv2d", reason: "kernel 5×5 is larger than the padded input 4×9")) {
            try Self.conv([1, 3, 2, 7], [2, 3, 5, 5])
        }
        #expect(try Ops.conv2dOutputShape(input: [1, 3, 3, 7], weight: [2, 3, 5, 5], options: Conv2DOptions(padding: 1)) == [1, 2, 1, 5])
        // 3×3 on a 1×1 input with padding 1: one Winograd tile, mostly padding.
        for algorithm in [Conv2DAlgorithm.gemm, .winograd] {
            let y = try Ops.conv2d(Tensor(shape: [1, 3, 1, 1], repeating: 2), weight: Self.weight(),
                                   options: Conv2DOptions(padding: 1, algorithm: algorithm))
            #expect(y.shape == [1, 4, 1, 1])
            #expect(y.scalars.allSatisfy { abs($0 - 3) < 1e-5 })  // 3 channels × centre tap 0.5 × 2
        }
    }

    @Test("an output of the wrong shape is rejected and left untouched")
    func wrongOutput() throws {
        var out = try Tensor(shape: [1, 4, 8, 7], repeating: 7)
        #expect(throws: TensorError.shapeMismatch(operation: "conv2d output", expected: "[1, 4, 8, 8]", actual: [1, 4, 8, 7])) {
            try Ops.conv2d(Tensor(shape: [1, 3, 8, 8]), weight: Self.weight(), options: Conv2DOptions(padding: 1),
                           into: &out, workspace: Workspace())
        }
        #expect(out.scalars.allSatisfy { $0 == 7 })
    }

    @Test("extents beyond the kernels' 32-bit range are rejected before any allocation")
    func tooLarge() {
        #expect(throws: TensorError.self) {
            try Ops.conv2dOutputShape(input: [1, 1, 1 << 40, 1 << 40], weight: [1, 1, 1, 1])
        }
        #expect(throws: TensorError.self) {
            try Ops.conv2dOutputShape(input: [1 << 40, 1, 1 << 20, 1 << 20], weight: [1, 1, 1, 1])
        }
        #expect(throws: TensorError.self) {
            try Ops.conv2dOutputShape(input: [1, 1 << 20, 64, 64], weight: [1, 1 << 20, 1 << 8, 1 << 8],
                                      options: Conv2DOptions(padding: 1 << 8))
        }
    }
}
