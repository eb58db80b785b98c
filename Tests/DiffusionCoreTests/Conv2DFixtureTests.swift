import Testing
@testable import DiffusionCore

/// Every case against torch's float64 result, on every path (GEMM, Winograd, automatic), every weight type
/// and every instruction-set level the processor has (portable, AVX2+FMA, AVX-512).
@Suite("Conv2D against torch (fixtures)", .serialized)
struct Conv2DFixtureTests {
    static let algorithms: [Conv2DAlgorithm] = [.gemm, .winograd, .automatic]

    /// GEMM paths ≤ 1e-5, Winograd ≤ 1e-4, relative to the output's largest magnitude.
    static func tolerance(_ x: Tensor, _ w: WeightMatrix, _ options: Conv2DOptions) throws -> Double {
        let g = try Conv2DGeometry(input: x.shape, weight: w.shape, options: options)
        return g.usesWinograd(options.algorithm) ? 1e-4 : 1e-5
    }

    @Test("F32, F16 and BF16 weights match torch on every path and level", arguments: ConvFixture.names)
    func matchesTorch(name: String) throws {
        let f = try ConvFixture(name)
        let x = try f.tensor("input"), bias = try f.bias()
        let workspace = Workspace()
        for tag in ["", "_f16", "_bf16"] where f.has("weight\(tag)") {
            let w = try f.weight("weight\(tag)")
            let (shape, expected) = try f.expected("expected\(tag)")
            try KernelPaths.forEach(levels: ConvKernelLevels.all) { level in
                for algorithm in Self.algorithms {
                    var options = f.options
                    options.algorithm = algorithm
                    let y = try Ops.conv2d(x, weight: w, bias: bias, options: options, workspace: workspace)
                    #expect(y.shape == shape)
                    let err = relativeMaxError(y, expected)
                    let tol = try Self.tolerance(x, w, options)
                    #expect(err <= tol, "\(name)\(tag) \(level) \(algorithm): relative error \(err) > \(tol)")
                }
            }
        }
    }

    @Test("the into: form writes every element of a reused workspace buffer")
    func intoReusedBuffer() throws {
        let workspace = Workspace()
        for name in ConvFixture.names {
            let f = try ConvFixture(name)
            let x = try f.tensor("input"), w = try f.weight(), bias = try f.bias()
            var out = try Tensor(shape: try Ops.conv2dOutputShape(input: x.shape, weight: w.shape, options: f.options),
                                 repeating: .nan)
            try Ops.conv2d(x, weight: w, bias: bias, options: f.options, into: &out, workspace: workspace)
            // Every element written (the buffer started as NaN), with the values of a fresh call. Other tests
            // switch the kernel level process-wide while this one runs, so the two calls may take different
            // instruction-set paths: compare to the paths' agreement, not bit for bit.
            let allWritten = out.scalars.allSatisfy { $0.isFinite }
            #expect(allWritten, "\(name): an element was left unwritten")
            let fresh = try Ops.conv2d(x, weight: w, bias: bias, options: f.options)
            #expect(relativeMaxError(out, fresh.scalars.map(Double.init)) <= 1e-5, "\(name)")
        }
    }

    @Test("a strided view as input gives the same result as its contiguous copy")
    func viewInput() throws {
        let f = try ConvFixture("k3s1p1_b2")
        let x = try f.tensor("input"), w = try f.weight(), bias = try f.bias()
        let second = try x.slice(axis: 0, 1..<2)
        let y = try Ops.conv2d(second, weight: w, bias: bias, options: f.options)
        let full = try Ops.conv2d(x, weight: w, bias: bias, options: f.options)
        #expect(y == (try full.slice(axis: 0, 1..<2).contiguous()))
    }
}

@Suite("Conv2D Winograd blocking")
struct Conv2DWinogradBlockingTests {
    @Test("blocks of output channels and chunks of tiles (cut mid tile row and mid image) give the same result",
          arguments: ["k3s1p1_b2", "k3s1p1_b2_channels33", "k3s1p1_wide"])
    func blocking(name: String) throws {
        // Each instruction-set level handed to the call explicitly: no process-wide switch, so tests running
        // alongside cannot change the path, and every element must still be written (the output starts as NaN).
        for level in ConvKernelLevels.all { try blocking(name: name, level: level) }
    }

    func blocking(name: String, level: KernelLevel) throws {
        let f = try ConvFixture(name)
        let x = try f.tensor("input"), w = try f.weight(), bias = try f.bias()
        let g = try Conv2DGeometry(input: x.shape, weight: w.shape, options: f.options)
        let (_, expected) = try f.expected()
        let full = ConvPlanner.winograd(g)
        let plans: [(Int, Int, Int?)] = [(1, 1, nil), (16, 5, nil), (7, full.tiles, nil), (g.outChannels, 3, nil),
                                          (5, 13, nil), (1, 1, 1), (1, 1, 8), (1, 1, 5)]
        for (coBlock, chunk, split) in plans {
            let plan = ConvPlanner.WinogradPlan(tiles: full.tiles, coBlock: min(coBlock, g.outChannels),
                                                tileChunk: min(chunk, full.tiles), channelSplit: split)
            var out = try Tensor(shape: g.outputShape, repeating: .nan)
            let xc = x.contiguous()
            out.withUnsafeMutableBufferPointer { y in
                bias!.withUnsafeBufferPointer { b in
                    xc.withUnsafeBufferPointer { xp in
                        WinogradConv.run(g, input: xp.baseAddress!, weight: w, bias: b.baseAddress, output: y.baseAddress!,
                                         workspace: nil, plan: plan, level: level)
                    }
                }
            }
            let err = relativeMaxError(out, expected)
            #expect(err <= 1e-4, "\(name) \(level) coBlock \(coBlock) chunk \(chunk) split \(String(describing: split)): \(err)")
        }
    }
}
