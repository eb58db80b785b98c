/// Completes orthonormal rows to a larger orthonormal set, deterministically: the unit vectors e₀, e₁, … in turn,
/// each made orthogonal to the rows so far (Gram–Schmidt, twice for accuracy) and kept when enough of it is left.
enum OrthonormalCompletion {
    /// `rows` ([count, columns], row-major, orthonormal) followed by `target − count` further orthonormal rows
    /// ([target, columns]); `target` is at most `columns`.
    static func rows(_ rows: [Float], count: Int, columns: Int, to target: Int) -> [Float] {
        var out = rows
        out.reserveCapacity(target * columns)
        var have = count
        var used = Set<Int>()
        var candidate = [Double](repeating: 0, count: columns)
        while have < min(target, columns) {
            // Any unit vector left over will do once its residual is at least half the average residual²,
            // (columns − have) / columns, which the best one always reaches.
            let threshold = 0.5 * Double(columns - have) / Double(columns)
            var added = false
            for j in 0..<columns where !used.contains(j) {
                for c in 0..<columns { candidate[c] = c == j ? 1 : 0 }
                for _ in 0..<2 {
                    for r in 0..<have {
                        var dot = 0.0
                        for c in 0..<columns { dot += Double(out[r * columns + c]) * candidate[c] }
                        for c in 0..<columns { candidate[c] -= dot * Double(out[r * columns + c]) }
                    }
                }
                let norm2 = candidate.reduce(0) { $0 + $1 * $1 }
                guard norm2 >= threshold else { continue }
                let inverse = 1 / norm2.squareRoot()
                out.append(contentsOf: candidate.map { Float($0 * inverse) })
                used.insert(j)
                have += 1
                added = true
                break
            }
            if !added { break }
        }
        // Not reached for orthonormal input; zero rows keep the shape (and ΔW) all the same.
        if have < target { out.append(contentsOf: [Float](repeating: 0, count: (target - have) * columns)) }
        return out
    }
}
