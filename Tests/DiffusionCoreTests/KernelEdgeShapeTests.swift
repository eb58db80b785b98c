import CDiffusionKernels
import Foundation
import Testing
@testable import DiffusionCore

/// The C kernels on the shapes their vector paths handle as tails (sizes 1, primes, one off a multiple of 8 or 16),
/// at every instruction-set level the processor has, against straightforward double-precision references written
/// here. Buffers are allocated to their exact size (no workspace), so an address-sanitised run
/// (`swift test --sanitize=address --filter KernelEdgeShapeTests`) catches any read or write past an end.
@Suite("Kernels on tail shapes against double-precision references")
struct KernelEdgeShapeTests {
    static func random(_ shape: [Int], seed: UInt64, offset: Float = 0) throws -> Tensor {
        var state = seed
        let values = (0..<shape.reduce(1, *)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 4 - 2 + offset
        }
        return try Tensor(shape: shape, scalars: values)
    }

    /// `|actual − expected| ≤ tolerance · scale` element-wise, the worst element named on failure; `scales` gives
    /// each element's scale (the magnitude its float computation cancels down from), else `max(1, max |expected|)`.
    static func expectNear(_ actual: [Float], _ expected: [Double], _ tolerance: Double, _ label: String,
                           scales: [Double]? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        guard actual.count == expected.count else {
            Issue.record("\(label): \(actual.count) elements, expected \(expected.count)", sourceLocation: sourceLocation)
            return
        }
        let scale = max(1, expected.reduce(0) { max($0, abs($1)) })
        var worst = 0.0, index = -1
        for i in actual.indices {
            let d = abs(Double(actual[i]) - expected[i]) / (scales.map { max(1, $0[i]) } ?? scale)
            if !(d <= worst) { worst = d; index = i }
            if d.isNaN { break }
        }
        if !(worst <= tolerance) {
            Issue.record("\(label): max |Δ|/scale \(worst) at \(index) (got \(actual[index]), expected \(expected[index]))",
                         sourceLocation: sourceLocation)
        }
    }

    // MARK: attention

    static func attentionReference(_ q: [Float], _ k: [Float], _ v: [Float], batch: Int, tq: Int, tk: Int, heads: Int,
                                   d: Int, dv: Int, causal: Bool) -> [Double] {
        let scale = Double(Float(1) / Float(d).squareRoot())
        var out = [Double](repeating: 0, count: batch * tq * heads * dv)
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<tq {
                    let visible = causal ? min(tk, i + 1) : tk
                    var s = [Double](repeating: 0, count: visible)
                    for j in 0..<visible {
                        var dot = 0.0
                        for c in 0..<d {
                            dot += Double(q[(b * tq + i) * heads * d + h * d + c]) * Double(k[(b * tk + j) * heads * d + h * d + c])
                        }
                        s[j] = dot * scale
                    }
                    let m = s.max() ?? 0
                    let e = s.map { exp($0 - m) }, sum = e.reduce(0, +)
                    for c in 0..<dv {
                        var acc = 0.0
                        for j in 0..<visible { acc += e[j] * Double(v[(b * tk + j) * heads * dv + h * dv + c]) }
                        out[(b * tq + i) * heads * dv + h * dv + c] = acc / sum
                    }
                }
            }
        }
        return out
    }

    @Test("attention on odd head widths, query tiles and key blocks, with and without the causal mask", arguments: [
        // (tq, tk, d, dv, causal)
        (1, 1, 1, 1, false), (1, 7, 3, 5, false), (5, 13, 7, 9, false), (17, 121, 9, 13, false),
        (67, 127, 17, 33, false), (65, 241, 16, 16, false), (33, 5, 40, 24, false),
        (1, 1, 1, 1, true), (7, 7, 5, 3, true), (67, 67, 9, 17, true), (130, 127, 16, 48, true), (5, 131, 3, 8, true),
    ])
    func attention(tq: Int, tk: Int, d: Int, dv: Int, causal: Bool) throws {
        let (batch, heads) = (2, 3)
        let q = try Self.random([batch, tq, heads * d], seed: 11), k = try Self.random([batch, tk, heads * d], seed: 12)
        let v = try Self.random([batch, tk, heads * dv], seed: 13)
        let want = Self.attentionReference(q.scalars, k.scalars, v.scalars, batch: batch, tq: tq, tk: tk, heads: heads,
                                           d: d, dv: dv, causal: causal)
        try KernelPaths.forEach { level in
            let y = try Ops.attention(query: q, key: k, value: v, options: AttentionOptions(heads: heads, causal: causal))
            Self.expectNear(y.scalars, want, 2e-6, "attention tq \(tq) tk \(tk) d \(d) dv \(dv) causal \(causal) \(level)")
        }
    }

    // MARK: normalisation

    static func groupNormReference(_ x: [Float], shape: [Int], groups: Int, gamma: [Float]?, beta: [Float]?, eps: Float,
                                   silu: Bool) -> (values: [Double], scales: [Double]) {
        let batch = shape[0], channels = shape[1], plane = x.count / (batch * channels), per = channels / groups
        var out = [Double](repeating: 0, count: x.count), scales = out
        for b in 0..<batch {
            for g in 0..<groups {
                let start = (b * channels + g * per) * plane, n = per * plane
                let mean = (start..<start + n).reduce(0.0) { $0 + Double(x[$1]) } / Double(n)
                let variance = (start..<start + n).reduce(0.0) { $0 + (Double(x[$1]) - mean) * (Double(x[$1]) - mean) } / Double(n)
                let rstd = 1 / (variance + Double(eps)).squareRoot()
                for i in 0..<n {
                    let c = g * per + i / plane, scale = rstd * Double(gamma?[c] ?? 1), shift = Double(beta?[c] ?? 0)
                    var t = (Double(x[start + i]) - mean) * scale + shift
                    // The kernels compute x·scale + (β − mean·scale) in float, as torch does: the error is relative
                    // to the terms that cancel, not to the result.
                    scales[start + i] = abs(Double(x[start + i]) * scale) + abs(mean * scale) + abs(shift)
                    if silu { t = t / (1 + exp(-t)) }
                    out[start + i] = t
                }
            }
        }
        return (out, scales)
    }

    @Test("GroupNorm on planes of 1, 7, 9, 17, 33 and 255 elements, with and without SiLU and affine parameters",
          arguments: [
              // (shape, groups)
              ([1, 1, 1, 1], 1), ([1, 3, 1, 1], 3), ([2, 6, 1, 7], 3), ([1, 4, 3, 3], 2), ([2, 2, 1, 17], 1),
              ([1, 6, 3, 11], 2), ([1, 3, 15, 17], 3), ([3, 5, 1, 1], 5),
          ])
    func groupNorm(shape: [Int], groups: Int) throws {
        let x = try Self.random(shape, seed: 21, offset: 0.5)
        let gamma = try Self.random([shape[1]], seed: 22), beta = try Self.random([shape[1]], seed: 23)
        for (affine, silu) in [(false, false), (true, false), (false, true), (true, true)] {
            let want = Self.groupNormReference(x.scalars, shape: shape, groups: groups, gamma: affine ? gamma.scalars : nil,
                                               beta: affine ? beta.scalars : nil, eps: 1e-5, silu: silu)
            try KernelPaths.forEach { level in
                let y = try Ops.groupNorm(x, groups: groups, weight: affine ? gamma : nil, bias: affine ? beta : nil,
                                          activation: silu ? .silu : .none)
                Self.expectNear(y.scalars, want.values, 1e-6, "groupNorm \(shape) groups \(groups) affine \(affine) silu \(silu) \(level)",
                                scales: want.scales)
            }
        }
    }

    @Test("the moments of 1…40 and 1031 elements at every level")
    func moments() throws {
        for n in Array(1...40) + [1031] {
            let x = try Self.random([n], seed: UInt64(n), offset: 3).scalars
            let mean = x.reduce(0.0) { $0 + Double($1) } / Double(n)
            let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
            KernelPaths.forEach { level in
                var m: Float = .nan, v: Float = .nan
                x.withUnsafeBufferPointer { dk_moments($0.baseAddress!, n, &m, &v) }
                Self.expectNear([m, v], [mean, variance], 2e-7, "moments of \(n) \(level)")
            }
        }
    }

    @Test("LayerNorm on rows of 1…40, 63…65 and 1031 elements, each combination of affine parameters")
    func layerNorm() throws {
        for cols in Array(1...40) + [63, 64, 65, 1031] {
            let rows = 3
            let x = try Self.random([rows, cols], seed: UInt64(100 + cols), offset: 1)
            let gamma = try Self.random([cols], seed: 7), beta = try Self.random([cols], seed: 8)
            for (useGamma, useBeta) in [(false, false), (true, false), (false, true), (true, true)] {
                var want = [Double](repeating: 0, count: rows * cols)
                let xs = x.scalars
                for r in 0..<rows {
                    let row = xs[r * cols..<(r + 1) * cols].map(Double.init)
                    let mean = row.reduce(0, +) / Double(cols)
                    let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(cols)
                    let rstd = 1 / (variance + 1e-5).squareRoot()
                    for c in 0..<cols {
                        var t = (row[c] - mean) * rstd
                        if useGamma { t *= Double(gamma.scalars[c]) }
                        if useBeta { t += Double(beta.scalars[c]) }
                        want[r * cols + c] = t
                    }
                }
                try KernelPaths.forEach { level in
                    let y = try Ops.layerNorm(x, weight: useGamma ? gamma : nil, bias: useBeta ? beta : nil, eps: 1e-5)
                    Self.expectNear(y.scalars, want, 2e-6, "layerNorm cols \(cols) γ \(useGamma) β \(useBeta) \(level)")
                }
            }
        }
    }

    // MARK: activations

    @Test("GEGLU on rows of 1…40, 63…65 and 257 elements, both gates")
    func geglu() throws {
        for inner in Array(1...40) + [63, 64, 65, 257] {
            let x = try Self.random([3, 2 * inner], seed: UInt64(200 + inner)).scalars.map { $0 * 3 }
            let xt = try Tensor(shape: [3, 2 * inner], scalars: x)
            for gate in [Activation.geluErf, .geluTanh] {
                var want = [Double](repeating: 0, count: 3 * inner)
                for r in 0..<3 {
                    for c in 0..<inner {
                        let a = Double(x[r * 2 * inner + c]), g = Double(x[r * 2 * inner + inner + c])
                        let gelu = gate == .geluErf
                            ? g * 0.5 * (1 + erf(g / 2.0.squareRoot()))
                            : 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g)))
                        want[r * inner + c] = a * gelu
                    }
                }
                try KernelPaths.forEach { level in
                    let y = try Ops.geglu(xt, gate: gate)
                    Self.expectNear(y.scalars, want, 2e-6, "geglu inner \(inner) \(gate) \(level)")
                }
            }
        }
    }

    // MARK: convolution (Winograd transforms)

    static func convReference(_ x: [Float], _ w: [Float], _ bias: [Float], n: Int, cin: Int, h: Int, wd: Int, cout: Int,
                              padding p: Conv2DPadding) -> (shape: [Int], values: [Double]) {
        let ho = h + p.top + p.bottom - 2, wo = wd + p.left + p.right - 2
        var out = [Double](repeating: 0, count: n * cout * ho * wo)
        for b in 0..<n {
            for co in 0..<cout {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var acc = Double(bias[co])
                        for ci in 0..<cin {
                            for ky in 0..<3 {
                                let iy = oy + ky - p.top
                                guard iy >= 0, iy < h else { continue }
                                for kx in 0..<3 {
                                    let ix = ox + kx - p.left
                                    guard ix >= 0, ix < wd else { continue }
                                    acc += Double(x[((b * cin + ci) * h + iy) * wd + ix]) * Double(w[((co * cin + ci) * 3 + ky) * 3 + kx])
                                }
                            }
                        }
                        out[((b * cout + co) * ho + oy) * wo + ox] = acc
                    }
                }
            }
        }
        return ([n, cout, ho, wo], out)
    }

    @Test("Winograd convolution on odd maps, asymmetric padding (tiles wholly in the padding too), few and many tiles", arguments: [
        // (n, cin, h, w, cout, padding top/left/bottom/right)
        (1, 1, 1, 1, 1, [1, 1, 1, 1]), (1, 3, 3, 3, 2, [0, 0, 0, 0]), (2, 3, 5, 7, 5, [1, 1, 1, 1]),
        (1, 2, 2, 9, 3, [1, 0, 0, 1]), (1, 5, 13, 11, 3, [0, 1, 1, 0]), (2, 3, 57, 61, 4, [1, 1, 1, 1]),
        (1, 2, 4, 135, 3, [1, 1, 1, 1]), (1, 2, 6, 5, 2, [0, 0, 6, 9]), (1, 2, 5, 3, 3, [7, 6, 0, 0]),
    ])
    func winograd(n: Int, cin: Int, h: Int, w: Int, cout: Int, padding: [Int]) throws {
        let pad = Conv2DPadding(top: padding[0], left: padding[1], bottom: padding[2], right: padding[3])
        let x = try Self.random([n, cin, h, w], seed: 41), weight = try Self.random([cout, cin, 3, 3], seed: 42)
        let bias = try Self.random([cout], seed: 43)
        let want = Self.convReference(x.scalars, weight.scalars, bias.scalars, n: n, cin: cin, h: h, wd: w, cout: cout,
                                      padding: pad)
        let options = Conv2DOptions(strideY: 1, strideX: 1, padding: pad, algorithm: .winograd)
        let wm = try WeightMatrix(weight)
        try KernelPaths.forEach { level in
            let y = try Ops.conv2d(x, weight: wm, bias: bias, options: options)
            #expect(y.shape == want.shape)
            Self.expectNear(y.scalars, want.values, 2e-5, "winograd \(n)×\(cin)×\(h)×\(w) → \(cout) pad \(padding) \(level)")
        }
    }

    // MARK: layout

    @Test("nearest ×2 upsampling and transposes of 1×1 to 33×65 maps")
    func layout() throws {
        for (planes, h, w) in [(1, 1, 1), (3, 1, 5), (2, 7, 1), (2, 5, 33), (1, 33, 65)] {
            let x = try Self.random([planes, h, w], seed: 51)
            let xs = x.scalars
            var up = [Float](repeating: 0, count: planes * 4 * h * w)
            for p in 0..<planes {
                for y in 0..<(2 * h) { for c in 0..<(2 * w) { up[(p * 2 * h + y) * 2 * w + c] = xs[(p * h + y / 2) * w + c / 2] } }
            }
            var tr = [Float](repeating: 0, count: planes * h * w)
            for p in 0..<planes { for r in 0..<h { for c in 0..<w { tr[(p * w + c) * h + r] = xs[(p * h + r) * w + c] } } }
            try KernelPaths.forEach { level in
                let u = try Ops.upsampleNearest2x(x.reshaped([1, planes, h, w])), t = try Ops.transposeLastTwo(x)
                #expect(u.scalars == up, "upsample \(planes)×\(h)×\(w) \(level)")
                #expect(t.scalars == tr, "transpose \(planes)×\(h)×\(w) \(level)")
            }
        }
    }

    @Test("half and bfloat16 widening of every bit pattern (NaNs bit for bit), and of short runs, at every level")
    func widening() throws {
        let all = (0...UInt16.max).map { $0 }
        func f16(_ h: UInt16) -> UInt32 {
            let sign = UInt32(h & 0x8000) << 16, e = UInt32(h >> 10) & 0x1f, m = UInt32(h & 0x3ff)
            if e == 0 { return sign | (Float(m) * 0x1p-24).bitPattern }
            // A signalling NaN comes out quiet, as F16C's conversion and torch's give it.
            if e == 31 { return sign | 0x7f80_0000 | (m << 13) | (m != 0 ? 0x40_0000 : 0) }
            return sign | ((e + 112) << 23) | (m << 13)
        }
        for n in [1, 7, 8, 9, 15, 16, 17, 31, 33, all.count] {
            let src = Array(all.suffix(n).reversed())
            KernelPaths.forEach { level in
                var out = [Float](repeating: 0, count: n)
                dk_f16_to_f32(src, &out, n)
                for i in 0..<n where out[i].bitPattern != f16(src[i]) {
                    Issue.record("f16 \(String(src[i], radix: 16)) → \(out[i]) at n \(n) \(level)")
                    break
                }
                dk_bf16_to_f32(src, &out, n)
                for i in 0..<n where out[i].bitPattern != UInt32(src[i]) << 16 {
                    Issue.record("bf16 \(String(src[i], radix: 16)) → \(out[i]) at n \(n) \(level)")
                    break
                }
            }
        }
    }
}
