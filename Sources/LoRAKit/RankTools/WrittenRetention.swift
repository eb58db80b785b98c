/// How much of the exact ΔW a written low-rank pair keeps, and how far kohya's signed quantile clamp
/// (with the storage rounding) moved it from the exact rank cut.
///
/// kohya's "Frobenius retained" is ‖S[:r]‖ / ‖S‖, the figure of the unclamped rank-r cut. The factors
/// written after the clamp can be much further from ΔW than that; this measures them as written.
public struct WrittenRetention: Sendable, Codable, Equatable {
    /// √(1 − e²) with e = ‖ΔW − up·down‖_F / ‖ΔW‖_F of the factors as written (0 when e ≥ 1);
    /// equal to ‖S[:r]‖ / ‖S‖ when nothing was clamped or rounded.
    public var frobeniusRetained: Double
    /// ‖up·down − U_r·S_r·V_rᵀ‖_F / ‖U_r·S_r·V_rᵀ‖_F: the relative change the clamp and the storage type
    /// made to the rank cut (0 when nothing was clamped).
    public var clampShift: Double

    public init(frobeniusRetained: Double, clampShift: Double) {
        self.frobeniusRetained = frobeniusRetained
        self.clampShift = clampShift
    }

    /// Measures `written` (up [rows, rank], down [rank, columns]) against the exact [rows, columns] ΔW
    /// and the unclamped cut factors.
    static func measure(exact: [Float], cut: (up: [Float], down: [Float]), written: (up: [Float], down: [Float]),
                        rows: Int, rank: Int, columns: Int) throws(RankToolsError) -> WrittenRetention {
        let (cutProduct, writtenProduct) = try RankToolsError.la { () throws(LinearAlgebraError) in
            (try BLAS.product(m: rows, n: columns, k: rank, cut.up, cut.down),
             try BLAS.product(m: rows, n: columns, k: rank, written.up, written.down))
        }
        var exactNorm = 0.0, error = 0.0, cutNorm = 0.0, shift = 0.0
        for i in exact.indices {
            let x = Double(exact[i]), c = Double(cutProduct[i]), w = Double(writtenProduct[i])
            exactNorm += x * x
            error += (x - w) * (x - w)
            cutNorm += c * c
            shift += (w - c) * (w - c)
        }
        let e = exactNorm > 0 ? error / exactNorm : (error > 0 ? 1 : 0)
        return WrittenRetention(frobeniusRetained: (max(0, 1 - e)).squareRoot(),
                                clampShift: cutNorm > 0 ? (shift / cutNorm).squareRoot() : 0)
    }

    /// `values` as they read back after being stored as `dtype`.
    static func stored(_ values: [Float], as dtype: DType) -> [Float] {
        guard dtype != .f32, ElementConversion.canEncode(to: dtype) else { return values }
        var bytes = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
        var out = [Float](repeating: 0, count: values.count)
        bytes.withUnsafeMutableBytes { raw in
            values.withUnsafeBufferPointer { ElementConversion.encode($0, as: dtype, into: raw) }
        }
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { ElementConversion.decode(raw, dtype: dtype, into: $0) }
        }
        return out
    }
}

/// Summary of per-module ``WrittenRetention`` figures.
public struct RetentionSummary: Sendable, Codable, Equatable {
    /// Mean of the written factors' Frobenius retention.
    public var meanFrobeniusRetained = 0.0
    /// Mean and largest clamp shift.
    public var meanClampShift = 0.0
    public var maxClampShift = 0.0

    public init() {}

    init(_ figures: [WrittenRetention]) {
        guard !figures.isEmpty else { return }
        meanFrobeniusRetained = figures.map(\.frobeniusRetained).reduce(0, +) / Double(figures.count)
        meanClampShift = figures.map(\.clampShift).reduce(0, +) / Double(figures.count)
        maxClampShift = figures.map(\.clampShift).max() ?? 0
    }
}
