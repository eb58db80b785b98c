import CDiffusionKernels
import Foundation
import Testing
@testable import DiffusionCore

/// The fused forms of the ops (layout-changing linear layers, accumulating convolutions, in-place GroupNorm, the
/// unpacked small-column product) against the unfused ops they replace.
@Suite("Fused ops against their unfused forms")
struct FusedOpsTests {
    static func random(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var state = seed
        let values = (0..<shape.reduce(1, *)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        return try Tensor(shape: shape, scalars: values)
    }

    static func maxRelativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let x = a.scalars, y = b.scalars
        let scale = max(y.map(abs).max() ?? 0, 1e-30)
        return zip(x, y).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    @Test("Attention with heads a multiple of 16 wide (the 16-lane value product) equals the portable path",
          arguments: [(64, 64, false), (64, 80, false), (32, 32, true), (16, 48, true)])
    func attentionWideHeads(d: Int, dv: Int, causal: Bool) throws {
        // 70 queries: a full query tile and a 6-row one (rows in fours and a remainder); 300 keys: two full key
        // blocks and a partial one, so the output correction between blocks runs.
        let (heads, tq, tk) = (2, 70, causal ? 70 : 300)
        let q = try Self.random([1, tq, heads * d], seed: 31), k = try Self.random([1, tk, heads * d], seed: 32)
        let v = try Self.random([1, tk, heads * dv], seed: 33)
        let options = AttentionOptions(heads: heads, causal: causal)
        var want: Tensor?
        let fused: [KernelLevel] = KernelLevel.best == .avx512 ? [.avx2, .avx512] : KernelLevel.best == .avx2 ? [.avx2] : []
        try KernelPaths.forEach(levels: [.portable] + fused) { level in
            let y = try Ops.attention(query: q, key: k, value: v, options: options, workspace: Workspace())
            if let want { expectClose(y, want, "attention d \(d) dv \(dv) causal \(causal) \(level)") } else { want = y }
        }
    }

    @Test("Linear from channel-major input equals transpose then linear")
    func linearFromChannelMajor() throws {
        let x = try Self.random([2, 13, 37], seed: 1)
        let weight = try WeightMatrix(try Self.random([11, 13], seed: 2))
        let bias = try Self.random([11], seed: 3)
        let want = try Ops.linear(try Ops.transposeLastTwo(x), weight: weight, bias: bias)
        var got = try Tensor(shape: [2, 37, 11])
        try Ops.linear(channelMajor: x, weight: weight, bias: bias, into: &got, workspace: Workspace())
        #expect(Self.maxRelativeError(got, want) <= 1e-6)
        var wrong = try Tensor(shape: [2, 11, 37])
        #expect(throws: TensorError.self) { try Ops.linear(channelMajor: x, weight: weight, bias: bias, into: &wrong) }
    }

    @Test("Linear written channel-major and accumulated equals linear, transpose and add")
    func linearToChannelMajor() throws {
        let x = try Self.random([2, 35, 13], seed: 4)
        let weight = try WeightMatrix(try Self.random([11, 13], seed: 5))
        let bias = try Self.random([11], seed: 6)
        let residual = try Self.random([2, 11, 5, 7], seed: 7)
        let product = try Ops.transposeLastTwo(try Ops.linear(x, weight: weight, bias: bias)).reshaped([2, 11, 5, 7])
        let want = try Ops.add(residual, product)
        var got = residual
        try Ops.linear(toChannelMajor: x, weight: weight, bias: bias, accumulate: true, into: &got)
        #expect(Self.maxRelativeError(got, want) <= 1e-6)
        #expect(Self.maxRelativeError(residual, try Self.random([2, 11, 5, 7], seed: 7)) == 0, "the input is not modified")
        var plain = try Tensor(shape: [2, 11, 35])
        try Ops.linear(toChannelMajor: x, weight: weight, bias: bias, into: &plain)
        #expect(Self.maxRelativeError(plain, try product.reshaped([2, 11, 35])) <= 1e-6)
    }

    @Test("Accumulating convolutions equal convolution plus the residual", arguments: [
        (3, 1, Conv2DAlgorithm.winograd), (3, 1, .gemm), (1, 1, .automatic), (3, 2, .automatic),
    ])
    func convolutionAccumulates(kernel: Int, stride: Int, algorithm: Conv2DAlgorithm) throws {
        let x = try Self.random([2, 9, 11, 13], seed: 8)
        let weight = try WeightMatrix(try Self.random([10, 9, kernel, kernel], seed: 9))
        let bias = try Self.random([10], seed: 10)
        let options = Conv2DOptions(stride: stride, padding: kernel / 2, algorithm: algorithm)
        let plain = try Ops.conv2d(x, weight: weight, bias: bias, options: options)
        let residual = try Self.random(plain.shape, seed: 11)
        var got = residual
        try Ops.conv2d(x, weight: weight, bias: bias, options: options, accumulate: true, into: &got, workspace: Workspace())
        #expect(Self.maxRelativeError(got, try Ops.add(residual, plain)) <= 1e-6)
    }

    @Test("GroupNorm in place equals GroupNorm into a new tensor")
    func groupNormInPlace() throws {
        try KernelPaths.pinned {
            let x = try Self.random([2, 12, 5, 7], seed: 12)
            let gamma = try Self.random([12], seed: 13), beta = try Self.random([12], seed: 14)
            let want = try Ops.groupNorm(x, groups: 4, weight: gamma, bias: beta, eps: 1e-5, activation: .silu)
            var got = x
            try Ops.groupNorm(inPlace: &got, groups: 4, weight: gamma, bias: beta, eps: 1e-5, activation: .silu)
            #expect(Self.maxRelativeError(got, want) == 0)
            #expect(throws: TensorError.self) { try Ops.groupNorm(inPlace: &got, groups: 5, weight: nil, bias: nil) }
        }
    }

    @Test("GroupNorm split over the cores gives the bits of the pass on one thread")
    func groupNormSplitOverCores() throws {
        let shape = [2, 64, 9, 11]
        let x = try Self.random(shape, seed: 19), gamma = try Self.random([64], seed: 20), beta = try Self.random([64], seed: 21)
        var one = [Float](repeating: .nan, count: x.count), split = one
        let xc = x.contiguous()
        KernelPaths.forEach(levels: [KernelLevel.best]) { _ in // the level held still for both calls
            withExtendedLifetime(xc) {
                one.withUnsafeMutableBufferPointer { y in
                    Ops.runGroupNorm(xc.elementPointer, y.baseAddress!, shape: shape, groups: 32, weight: gamma, bias: beta,
                                     eps: 1e-5, activation: .silu, serialBytes: .max)
                }
                split.withUnsafeMutableBufferPointer { y in
                    Ops.runGroupNorm(xc.elementPointer, y.baseAddress!, shape: shape, groups: 32, weight: gamma, bias: beta,
                                     eps: 1e-5, activation: .silu, serialBytes: 0)
                }
            }
        }
        #expect(one.allSatisfy { $0.isFinite })
        #expect(one == split)
        if Parallel.workerCount > 1 { #expect(Ops.normalizationChunks(tasks: 64, taskBytes: 396, serialBytes: 0) > 1) }
        #expect(Ops.normalizationChunks(tasks: 64, taskBytes: 396, serialBytes: .max) == 1)
    }

    /// The levels this processor has, each passed explicitly (no process-wide switch, so other tests cannot
    /// change what these calls run).
    static var levels: [KernelLevel] { KernelLevel.allCases.filter { $0.rawValue <= KernelLevel.best.rawValue } }

    @Test("The unpacked small-column product equals the naive product at AVX-512, and writes nothing below it")
    func smallColumnProduct() throws {
        for (rows, cols, depth) in [(1, 1, 1), (6, 16, 8), (7, 17, 13), (13, 64, 37), (20, 70, 5), (5, 130, 3)] {
            let a = try Self.random([rows, depth], seed: 15).scalars, b = try Self.random([depth, cols], seed: 16).scalars
            var want = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows { for c in 0..<cols { for k in 0..<depth { want[r * cols + c] += a[r * depth + k] * b[k * cols + c] } } }
            for level in Self.levels {
                var got = [Float](repeating: .nan, count: rows * cols)
                let done = dk_gemm_small_n(Int32(rows), Int32(cols), Int32(depth), a, depth, b, cols, &got, cols,
                                           Int32(level.rawValue))
                if level == .avx512 {
                    #expect(done == 1)
                    let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst <= 1e-5 * Float(depth), "\(rows)×\(cols)×\(depth): \(worst)")
                } else {
                    #expect(done == 0, "\(level)")
                    #expect(got.allSatisfy { $0.isNaN }, "\(level): a refused product wrote into its output")
                }
            }
        }
    }

    @Test("Winograd's transform-domain products write every element at every level, refused or not")
    func winogradPlaneProductsAtEveryLevel() throws {
        let planes = WinogradConv.planes
        // 16…64 columns: the range the planner hands to the unpacked kernel, which refuses below AVX-512.
        for (rows, columns, depth) in [(5, 16, 7), (12, 33, 9), (3, 64, 20)] {
            let u = try Self.random([planes, rows, depth], seed: 17).scalars
            let v = try Self.random([planes, depth, columns], seed: 18).scalars
            var want = [Float](repeating: 0, count: planes * rows * columns)
            for p in 0..<planes { for r in 0..<rows { for c in 0..<columns { for k in 0..<depth {
                want[(p * rows + r) * columns + c] += u[(p * rows + r) * depth + k] * v[(p * depth + k) * columns + c]
            } } } }
            for level in Self.levels {
                // Started as NaN: a refusal taken as done would leave NaN behind.
                var got = [Float](repeating: .nan, count: planes * rows * columns)
                u.withUnsafeBufferPointer { up in
                    v.withUnsafeBufferPointer { vp in
                        got.withUnsafeMutableBufferPointer { mp in
                            WinogradConv.planeProducts(up.baseAddress!, rows: rows, vp.baseAddress!, columns: columns,
                                                       depth: depth, into: mp.baseAddress!, level: level)
                        }
                    }
                }
                let worst = zip(got, want).map { $0.isNaN ? Float.infinity : abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-5 * Float(depth), "\(rows)×\(columns)×\(depth) \(level): \(worst)")
            }
        }
    }
}
