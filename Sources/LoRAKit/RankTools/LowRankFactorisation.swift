/// A matrix's thin SVD, `A = U · diag(S) · Vᵀ` with A [rows, columns], and the kohya
/// split of its truncation into LoRA factors (`up = U·diag(S)`, `down = Vᵀ`, no square
/// root), plus the signed quantile clamp of `extract_lora_from_models.py` / `svd_merge_lora.py`.
struct SingularDecomposition: Sendable {
    var rows: Int
    var columns: Int
    /// U [rows, k], row-major.
    var u: [Float]
    /// S [k], descending.
    var s: [Float]
    /// Vᵀ [k, columns], row-major.
    var vt: [Float]

    /// Triplets held.
    var count: Int { s.count }
    /// len(S) of the full spectrum: min(rows, columns).
    var fullLength: Int { min(rows, columns) }

    /// SVD of a dense [rows, columns] matrix (`LAPACKE_sgesdd`, thin).
    static func dense(_ a: [Float], rows: Int, columns: Int) throws(RankToolsError) -> SingularDecomposition {
        let (u, s, vt) = try RankToolsError.la { () throws(LinearAlgebraError) in try LAPACK.svd(a, rows: rows, columns: columns) }
        return SingularDecomposition(rows: rows, columns: columns, u: u, s: s, vt: vt)
    }

    /// SVD of `up · down` (up [rows, rank], down [rank, columns]) without forming the product;
    /// holds min(rows, rank, columns) triplets.
    static func product(up: [Float], down: [Float], rows: Int, rank: Int, columns: Int) throws(RankToolsError) -> SingularDecomposition {
        let (u, s, vt) = try RankToolsError.la { () throws(LinearAlgebraError) in
            try LAPACK.svdOfProduct(up: up, down: down, rows: rows, rank: rank, columns: columns)
        }
        return SingularDecomposition(rows: rows, columns: columns, u: u, s: s, vt: vt)
    }

    /// The first `rank` triplets as kohya factors for a layer of natural shape `layer` (rows × columns
    /// elements): up = U[:, :rank]·diag(S[:rank]), down = Vᵀ[:rank]; at most ``count`` triplets.
    func factors(rank: Int, layer: [Int]) -> LowRankFactors {
        let (up, down) = factors(rank: rank)
        return LowRankFactors(up: up, down: down, rank: min(rank, count), layer: layer)
    }

    /// The first `rank` triplets as flat matrices: up [rows, r], down [r, columns].
    func factors(rank: Int) -> (up: [Float], down: [Float]) {
        let r = min(rank, count)
        var up = [Float](repeating: 0, count: rows * r)
        for i in 0..<rows {
            for j in 0..<r { up[i * r + j] = u[i * count + j] * s[j] }
        }
        let down = Array(vt[0..<(r * columns)])
        return (up, down)
    }
}

/// The signed quantile clamp kohya applies after extraction and SVD merge.
enum QuantileClamp {
    /// `torch.quantile(x, q)` with linear interpolation, bit for bit as torch 2.x computes it on
    /// CPU: q rounded to Float32, rank = q·(n − 1) in Double, weight = Float(rank − ⌊rank⌋), then
    /// torch's vectorised `lerp` (fused multiply-add from the nearer end).
    static func quantile(_ values: [Float], _ q: Float) -> Float {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let n = sorted.count
        let position = Double(q) * Double(n - 1)
        let below = min(max(Int(position.rounded(.down)), 0), n - 1)
        let above = min(max(Int(position.rounded(.up)), 0), n - 1)
        let weight = Float(position - Double(below))
        let a = sorted[below], b = sorted[above]
        let d = b - a
        return abs(weight) < 0.5 ? a.addingProduct(weight, d) : b.addingProduct(weight - 1, d)
    }

    /// Clamps both factors to [−hi, hi], hi the `q`-quantile of their concatenated signed values. Returns hi.
    @discardableResult
    static func apply(_ factors: inout LowRankFactors, quantile q: Float) -> Float {
        apply(up: &factors.up, down: &factors.down, quantile: q)
    }

    /// Clamps `up` and `down` to [−hi, hi], hi the `q`-quantile of their concatenated signed values.
    /// Returns hi.
    @discardableResult
    static func apply(up: inout [Float], down: inout [Float], quantile q: Float) -> Float {
        let hi = quantile(up + down, q)
        let lo = -hi
        for i in up.indices { up[i] = min(max(up[i], lo), hi) }
        for i in down.indices { down[i] = min(max(down[i], lo), hi) }
        return hi
    }
}
