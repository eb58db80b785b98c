import CDiffusionKernels
import COpenBLAS
import LoRAKit

/// Fusing a plain LoRA / LoCon into a half-precision weight the way PEFT's `merge` does it to an F16 / BF16 layer
/// on the CPU: the factors in the weight's type (PEFT moves the adapter to the base layer's dtype), their product
/// `s·U·D` computed in float32, rounded to the weight's type, then added in it. `W` is never widened as a whole:
/// `s·U·D` is made a tile at a time by one small GEMM into cache-sized scratch and added straight into the
/// output.
enum HalfPrecisionFusion {
    /// Rows and columns of one tile of `s·U·D` (256 × 512 floats: 512 KB of scratch, within a core's L2). Each
    /// tile's GEMM packs its slice of `D` (r × 512) and of `U` (256 × r): tall tiles pack `D` fewer times.
    static let tileRows = 256
    static let tileColumns = 512

    /// The factors of `patch` as flat `U` `[rows, r]` and `D` `[r, columns]` when it is a plain LoRA / LoCon whose
    /// product has `rows · columns` elements and `rows` outputs (the rule of LoRAKit's `fit`), else nil.
    static func factors(of patch: LoRAModule, rows: Int, columns: Int) -> LowRankFactors? {
        guard patch.patchesWeight, let f = patch.lowRankFactors, f.chains, f.outFeatures == rows, f.columns == columns else {
            return nil
        }
        return f
    }

    /// `dst = half(base + half(scale · U·D))`, tile by tile. `base` may be `dst.base` (a second LoRA on the
    /// same layer) or the mapped original (the first).
    static func add(_ factors: LowRankFactors, scale: Float, base: UnsafePointer<UInt16>, into dst: HalfBuffer,
                    rows: Int, columns: Int) {
        let rank = factors.rank
        let bf16: Int32 = dst.element == .bfloat16 ? 1 : 0
        let up = rounded(factors.up, to: dst.element), down = rounded(factors.down, to: dst.element)
        let tileRows = min(rows, Self.tileRows), tileColumns = min(columns, Self.tileColumns)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * tileColumns)
        defer { scratch.deallocate() }
        up.withUnsafeBufferPointer { u in
            down.withUnsafeBufferPointer { d in
                for r0 in stride(from: 0, to: rows, by: tileRows) {
                    let m = min(tileRows, rows - r0)
                    for c0 in stride(from: 0, to: columns, by: tileColumns) {
                        let n = min(tileColumns, columns - c0)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(rank), scale,
                                    u.baseAddress! + r0 * rank, Int32(rank), d.baseAddress! + c0, Int32(columns),
                                    0, scratch, Int32(n))
                        for i in 0..<m {
                            let at = (r0 + i) * columns + c0
                            dk_half_add_rounded(base + at, scratch + i * n, dst.base + at, n, bf16)
                        }
                    }
                }
            }
        }
    }

    /// `values` rounded to `element` and widened back (exact for values already of that type).
    static func rounded(_ values: [Float], to element: WeightMatrix.Element) -> [Float] {
        guard element != .float32, !values.isEmpty else { return values }
        var bits = [UInt16](repeating: 0, count: values.count)
        var out = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in
            bits.withUnsafeMutableBufferPointer { b in
                if element == .bfloat16 { dk_f32_to_bf16(v.baseAddress!, b.baseAddress!, v.count) } else {
                    dk_f32_to_f16(v.baseAddress!, b.baseAddress!, v.count)
                }
                out.withUnsafeMutableBufferPointer { o in
                    if element == .bfloat16 { dk_bf16_to_f32(b.baseAddress!, o.baseAddress!, v.count) } else {
                        dk_f16_to_f32(b.baseAddress!, o.baseAddress!, v.count)
                    }
                }
            }
        }
        return out
    }
}
