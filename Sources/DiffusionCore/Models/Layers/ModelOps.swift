import Foundation

/// Model glue that the general ops do not cover: layout changes between NCHW maps and token sequences,
/// per-channel and residual adds, channel concatenation, nearest upsampling to a given size, the sinusoidal
/// timestep features, and diffusers' tiled VAE blending.
enum ModelOps {
    /// `[B, C, H, W]` → `[B, H·W, C]` (a view as `[B, C, H·W]`, then the compute layer's transpose).
    static func toSequence(_ x: Tensor) throws -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return try LayerTiming.measure("transpose") { try Ops.transposeLastTwo(try x.reshaped([b, c, h * w])) }
    }

    /// `[B, H·W, C]` → `[B, C, H, W]`.
    static func toImage(_ x: Tensor, height h: Int, width w: Int) throws -> Tensor {
        let (b, c) = (x.shape[0], x.shape[2])
        guard x.shape[1] == h * w else { throw ModelError.invalidInput("sequence \(x.shape) is not \(h)×\(w)") }
        return try LayerTiming.measure("transpose") { try Ops.transposeLastTwo(x).reshaped([b, c, h, w]) }
    }

    /// `x[n, c, :, :] += bias[n, c]` for `x` `[B, C, H, W]` and `bias` `[B, C]`.
    static func addPerChannel(_ x: inout Tensor, _ bias: Tensor) throws {
        try LayerTiming.measure("add per channel") { try addPerChannelUntimed(&x, bias) }
    }

    private static func addPerChannelUntimed(_ x: inout Tensor, _ bias: Tensor) throws {
        let (b, c) = (x.shape[0], x.shape[1])
        guard bias.shape == [b, c] else { throw ModelError.invalidInput("per-channel bias \(bias.shape) for \(x.shape)") }
        let plane = x.count / (b * c)
        let biasValues = bias.contiguous()
        biasValues.withUnsafeBufferPointer { bb in
            x.withUnsafeMutableBufferPointer { xx in
                let base = xx.baseAddress!
                Parallel.forEach(b * c) { range in
                    for index in range {
                        let value = bb[index], row = base + index * plane
                        for i in 0..<plane { row[i] += value }
                    }
                }
            }
        }
    }

    /// `x = (x + y) / divisor` element-wise (a residual add with diffusers' `output_scale_factor`).
    static func addScaled(_ x: inout Tensor, _ y: Tensor, divideBy divisor: Float) throws {
        try LayerTiming.measure("residual add") { try addScaledUntimed(&x, y, divideBy: divisor) }
    }

    private static func addScaledUntimed(_ x: inout Tensor, _ y: Tensor, divideBy divisor: Float) throws {
        guard x.shape == y.shape else { throw ModelError.invalidInput("residual \(y.shape) for \(x.shape)") }
        if divisor == 1 {
            try Ops.add(y, to: &x)
            return
        }
        let yc = y.contiguous()
        yc.withUnsafeBufferPointer { yy in
            x.withUnsafeMutableBufferPointer { xx in
                let xb = xx.baseAddress!, yb = yy.baseAddress!
                Parallel.forEach(xx.count, grain: 1 << 16) { range in
                    if divisor == 1 {
                        for i in range { xb[i] += yb[i] }
                    } else {
                        for i in range { xb[i] = (xb[i] + yb[i]) / divisor }
                    }
                }
            }
        }
    }

    /// Concatenation of two `[B, X]` and `[B, Y]` matrices into `[B, X + Y]`.
    static func concatLastAxis(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.rank == 2, b.rank == 2, a.shape[0] == b.shape[0] else {
            throw ModelError.invalidInput("cannot concatenate \(a.shape) and \(b.shape)")
        }
        let (n, x, y) = (a.shape[0], a.shape[1], b.shape[1])
        let av = a.scalars, bv = b.scalars
        var values: [Float] = []
        values.reserveCapacity(n * (x + y))
        for i in 0..<n {
            values += av[(i * x)..<((i + 1) * x)]
            values += bv[(i * y)..<((i + 1) * y)]
        }
        return try Tensor(shape: [n, x + y], scalars: values)
    }

    /// Nearest-neighbour upsampling of NCHW maps to `size` (torch `interpolate(mode="nearest")`: source index
    /// `⌊dst · in / out⌋`), or to twice the size when `size` is nil.
    static func upsampleNearest(_ x: Tensor, to size: (Int, Int)?) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = size ?? (2 * h, 2 * w)
        if oh == 2 * h && ow == 2 * w { return try LayerTiming.measure("upsample") { try Ops.upsampleNearest2x(x) } }
        let src = x.contiguous()
        return try Tensor(shape: [n, c, oh, ow]) { out in
            src.withUnsafeBufferPointer { s in
                let sb = s.baseAddress!, ob = out.baseAddress!
                let scaleY = Float(h) / Float(oh), scaleX = Float(w) / Float(ow)
                Parallel.forEach(n * c) { r in
                    for p in r {
                        for y in 0..<oh {
                            let sy = min(Int(Float(y) * scaleY), h - 1)
                            for xx in 0..<ow {
                                ob[p * oh * ow + y * ow + xx] = sb[p * h * w + sy * w + min(Int(Float(xx) * scaleX), w - 1)]
                            }
                        }
                    }
                }
            }
        }
    }

    /// One timestep per batch element: `[]` or `[1]` is repeated, `[B]` kept.
    static func broadcastTimesteps(_ t: Tensor, batch: Int) throws -> Tensor {
        let values = t.scalars
        if values.count == 1 { return try Tensor(shape: [batch], repeating: values[0]) }
        guard values.count == batch else { throw ModelError.invalidInput("\(values.count) timesteps for a batch of \(batch)") }
        return try Tensor(shape: [batch], scalars: values)
    }

    /// diffusers' `get_timestep_embedding` (scale 1, max period 10 000): `[N]` → `[N, channels]`.
    static func timestepEmbedding(_ t: Tensor, channels: Int, flipSinToCos: Bool, downscaleFreqShift: Float) throws -> Tensor {
        try Ops.timestepEmbedding(t.scalars, dim: channels, flipSinToCos: flipSinToCos, downscaleFreqShift: downscaleFreqShift)
    }

    /// `x · scale + shift` element-wise.
    static func affine(_ x: Tensor, scale: Float, shift: Float) throws -> Tensor {
        try map(x) { $0 * scale + shift }
    }

    /// `f` applied element-wise.
    static func map(_ x: Tensor, _ f: @escaping @Sendable (Float) -> Float) throws -> Tensor {
        let src = x.contiguous()
        return try Tensor(shape: x.shape) { out in
            src.withUnsafeBufferPointer { s in
                let sb = s.baseAddress!, ob = out.baseAddress!
                Parallel.forEach(out.count, grain: 1 << 15) { r in for i in r { ob[i] = f(sb[i]) } }
            }
        }
    }

    /// `a + b · c` element-wise.
    static func multiplyAdd(_ a: Tensor, _ b: Tensor, _ c: Tensor) throws -> Tensor {
        let av = a.scalars, bv = b.scalars, cv = c.scalars
        return try Tensor(shape: a.shape, scalars: (0..<av.count).map { av[$0] + bv[$0] * cv[$0] })
    }

    /// `exp(0.5 · clamp(logvar, min, max))` element-wise.
    static func stdFromLogVariance(_ logVariance: Tensor, min lower: Float, max upper: Float) throws -> Tensor {
        try map(logVariance.contiguous()) { Foundation.exp(0.5 * Swift.min(Swift.max($0, lower), upper)) }
    }

    /// diffusers' tiled VAE pass: tiles of `tile` pixels every `step` along both spatial axes, each through
    /// `run`, blended into its upper and left neighbours over `blend` rows/columns (in place, in diffusers'
    /// order, so later tiles blend against already-blended neighbours), cropped to `rowLimit`, and joined.
    static func tiled(_ x: Tensor, tile: Int, step: Int, blend: Int, rowLimit: Int,
                      run: (Tensor) throws -> Tensor) throws -> Tensor {
        guard step > 0, rowLimit > 0 else { throw ModelError.invalidInput("tile size \(tile) is too small to tile") }
        let (height, width) = (x.shape[2], x.shape[3])
        var rows: [[Tensor]] = []
        for top in stride(from: 0, to: height, by: step) {
            var row: [Tensor] = []
            for left in stride(from: 0, to: width, by: step) {
                let piece = try x.slice(axis: 2, top..<min(top + tile, height))
                    .slice(axis: 3, left..<min(left + tile, width)).contiguous()
                row.append(try run(piece))
            }
            rows.append(row)
        }
        for i in rows.indices {
            for j in rows[i].indices {
                if i > 0 { blendVertical(rows[i - 1][j], into: &rows[i][j], extent: blend) }
                if j > 0 { blendHorizontal(rows[i][j - 1], into: &rows[i][j], extent: blend) }
            }
        }
        // Crop and join.
        let first = rows[0][0]
        let (n, c) = (first.shape[0], first.shape[1])
        let heights = rows.map { min($0[0].shape[2], rowLimit) }
        let widths = rows[0].map { min($0.shape[3], rowLimit) }
        let outH = heights.reduce(0, +), outW = widths.reduce(0, +)
        var out = try Tensor(shape: [n, c, outH, outW])
        out.withUnsafeMutableBufferPointer { o in
            var y0 = 0
            for (i, row) in rows.enumerated() {
                var x0 = 0
                for (j, piece) in row.enumerated() {
                    let (ph, pw) = (piece.shape[2], piece.shape[3])
                    piece.withUnsafeBufferPointer { p in
                        for plane in 0..<(n * c) {
                            for y in 0..<heights[i] {
                                let src = p.baseAddress! + plane * ph * pw + y * pw
                                let dst = o.baseAddress! + plane * outH * outW + (y0 + y) * outW + x0
                                dst.update(from: src, count: widths[j])
                            }
                        }
                    }
                    x0 += widths[j]
                }
                y0 += heights[i]
            }
        }
        return out
    }

    private static func blendVertical(_ a: Tensor, into b: inout Tensor, extent: Int) {
        let e = min(a.shape[2], b.shape[2], extent)
        guard e > 0 else { return }
        let (ah, aw, bh, bw) = (a.shape[2], a.shape[3], b.shape[2], b.shape[3])
        let planes = b.shape[0] * b.shape[1], cols = min(aw, bw)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                for plane in 0..<planes {
                    for y in 0..<e {
                        let wa = Float(1 - Double(y) / Double(e)), wb = Float(Double(y) / Double(e))
                        let ra = pa.baseAddress! + plane * ah * aw + (ah - e + y) * aw
                        let rb = pb.baseAddress! + plane * bh * bw + y * bw
                        for x in 0..<cols { rb[x] = ra[x] * wa + rb[x] * wb }
                    }
                }
            }
        }
    }

    private static func blendHorizontal(_ a: Tensor, into b: inout Tensor, extent: Int) {
        let e = min(a.shape[3], b.shape[3], extent)
        guard e > 0 else { return }
        let (ah, aw, bh, bw) = (a.shape[2], a.shape[3], b.shape[2], b.shape[3])
        let planes = b.shape[0] * b.shape[1], rowsCount = min(ah, bh)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                for plane in 0..<planes {
                    for y in 0..<rowsCount {
                        let ra = pa.baseAddress! + plane * ah * aw + y * aw
                        let rb = pb.baseAddress! + plane * bh * bw + y * bw
                        for x in 0..<e {
                            let wa = Float(1 - Double(x) / Double(e)), wb = Float(Double(x) / Double(e))
                            rb[x] = ra[aw - e + x] * wa + rb[x] * wb
                        }
                    }
                }
            }
        }
    }
}
