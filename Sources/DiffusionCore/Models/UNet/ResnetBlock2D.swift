/// diffusers' `ResnetBlock2D` (the "default" time-embedding mode): GroupNorm → SiLU → conv3×3, plus the
/// projected time embedding per channel, GroupNorm → SiLU → conv3×3, then `(shortcut(x) + h) / scale`.
/// Shapes: `x` NCHW `[B, Cin, H, W]`, `temb` `[B, T]` (nil in the VAE, which has no time embedding).
struct ResnetBlock2D {
    let norm1: GroupNormLayer
    let conv1: ConvLayer
    let timeProjection: LinearLayer?
    let norm2: GroupNormLayer
    let conv2: ConvLayer
    let shortcut: ConvLayer?
    let outputScale: Float

    init(_ w: ComponentWeights, _ prefix: String, in inChannels: Int, out outChannels: Int, temb: Int?,
         groups: Int, eps: Float, outputScale: Float = 1) throws {
        norm1 = try GroupNormLayer(w, "\(prefix).norm1", channels: inChannels, groups: groups, eps: eps)
        conv1 = try ConvLayer(w, "\(prefix).conv1", in: inChannels, out: outChannels, kernel: 3, stride: 1, padding: .init(1))
        timeProjection = try temb.map { try LinearLayer(w, "\(prefix).time_emb_proj", in: $0, out: outChannels) }
        norm2 = try GroupNormLayer(w, "\(prefix).norm2", channels: outChannels, groups: groups, eps: eps)
        conv2 = try ConvLayer(w, "\(prefix).conv2", in: outChannels, out: outChannels, kernel: 3, stride: 1, padding: .init(1))
        shortcut = inChannels == outChannels ? nil
            : try ConvLayer(w, "\(prefix).conv_shortcut", in: inChannels, out: outChannels, kernel: 1, stride: 1, padding: .zero)
        self.outputScale = outputScale
    }

    /// - Parameters:
    ///   - activatedTemb: `SiLU(temb)`, computed once per forward by the caller (every block applies the same
    ///     SiLU to the same embedding).
    ///   - workspace: where the intermediates come from and go back to; the result is a workspace buffer too.
    ///
    /// The time-embedding projection is folded into `conv1`'s bias when every batch element has the same one
    /// (batch 1, or CFG's two halves at one timestep), the second GroupNorm+SiLU runs in place, and the
    /// residual (the input, or its 1×1 shortcut) is added in `conv2`'s output pass.
    func callAsFunction(_ x: Tensor, activatedTemb: Tensor?, workspace ws: Workspace? = nil) throws -> Tensor {
        var activated = try norm1(x, activation: .silu, workspace: ws)
        var h: Tensor
        if let timeProjection, let activatedTemb {
            var t = try timeProjection(activatedTemb, workspace: ws)
            if let row = try ResnetBlock2D.sharedRow(t) {
                let bias = conv1.bias?.scalars ?? [Float](repeating: 0, count: row.count)
                let combined = try Tensor(shape: [row.count], scalars: zip(bias, row).map { $0 + $1 })
                h = try conv1(activated, bias: combined, workspace: ws)
            } else {
                h = try conv1(activated, bias: conv1.bias, workspace: ws)
                try ModelOps.addPerChannel(&h, t)
            }
            ws?.recycle(&t)
        } else {
            h = try conv1(activated, bias: conv1.bias, workspace: ws)
        }
        ws?.recycle(&activated)
        try norm2.apply(to: &h, activation: .silu)
        var out: Tensor
        if outputScale == 1 {
            if let shortcut {
                out = try shortcut(x, bias: shortcut.bias, workspace: ws)
            } else {
                out = try ws?.tensor(shape: x.shape) ?? Tensor(shape: x.shape)
                x.copyElements(to: out.elementPointer)
            }
            try conv2.accumulate(h, into: &out, workspace: ws)
        } else {
            out = try conv2(h, bias: conv2.bias, workspace: ws)
            let skip = try shortcut.map { try $0(x, bias: $0.bias, workspace: ws) } ?? x
            try ModelOps.addScaled(&out, skip, divideBy: outputScale)
        }
        ws?.recycle(&h)
        return out
    }

    /// The one row every batch element of `t` `[B, C]` shares, or nil when the rows differ.
    static func sharedRow(_ t: Tensor) throws -> [Float]? {
        let values = t.scalars
        let (rows, width) = (t.shape[0], t.shape[1])
        let first = Array(values[0..<width])
        for r in 1..<max(rows, 1) where !values[(r * width)..<((r + 1) * width)].elementsEqual(first) { return nil }
        return first
    }
}
