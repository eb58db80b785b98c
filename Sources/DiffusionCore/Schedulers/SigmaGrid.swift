import Foundation

/// σ respacing methods (NUMERICS.md §4.0.5).
public enum SigmaRespacing: String, Sendable, CaseIterable {
    case none, karras, exponential, beta
}

/// σ-grid machinery shared by the sigma and multistep schedulers. Grids are computed in float64 like
/// NumPy; the σ table and its logarithm are float32 like diffusers.
enum SigmaGrid {
    /// `np.interp(x, arange(count), table)`.
    static func interp(_ x: Double, table: [Float]) -> Double {
        let n = table.count
        guard n > 0, !x.isNaN else { return .nan }
        if x <= 0 { return Double(table[0]) }
        if x >= Double(n - 1) { return Double(table[n - 1]) }
        let j = Int(x.rounded(.down))
        if Double(j) == x { return Double(table[j]) }
        let y0 = Double(table[j]), y1 = Double(table[j + 1])
        let slope = (y1 - y0) / 1.0
        return slope * (x - Double(j)) + y0
    }

    /// Karras et al. (2022) ρ = 7 spacing between `sigmaMax` and `sigmaMin`, `n` points.
    static func karras(sigmaMin: Double, sigmaMax: Double, count n: Int) -> [Double] {
        let rho = 7.0
        let minInv = pow(sigmaMin, 1 / rho), maxInv = pow(sigmaMax, 1 / rho)
        return TimestepGrid.linspace(0, 1, n).map { r in pow(maxInv + r * (minInv - maxInv), rho) }
    }

    /// Log-uniform spacing between `sigmaMax` and `sigmaMin`.
    static func exponential(sigmaMin: Double, sigmaMax: Double, count n: Int) -> [Double] {
        TimestepGrid.linspace(log(sigmaMax), log(sigmaMin), n).map { exp($0) }
    }

    /// Beta(0.6, 0.6) quantile spacing ("Beta Sampling is All You Need").
    static func beta(sigmaMin: Double, sigmaMax: Double, count n: Int, alpha: Double = 0.6, beta: Double = 0.6) -> [Double] {
        TimestepGrid.linspace(0, 1, n).map { r in
            sigmaMin + BetaDistribution.quantile(1 - r, a: alpha, b: beta) * (sigmaMax - sigmaMin)
        }
    }

    /// Applies a respacing method to `(sigmaMin, sigmaMax)`.
    static func respaced(_ method: SigmaRespacing, sigmaMin: Double, sigmaMax: Double, count n: Int) -> [Double]? {
        switch method {
        case .none: return nil
        case .karras: return karras(sigmaMin: sigmaMin, sigmaMax: sigmaMax, count: n)
        case .exponential: return exponential(sigmaMin: sigmaMin, sigmaMax: sigmaMax, count: n)
        case .beta: return beta(sigmaMin: sigmaMin, sigmaMax: sigmaMax, count: n)
        }
    }

    /// float32 `np.log(sigma_table)`.
    static func logSigmas(_ table: [Float]) -> [Float] { table.map { Foundation.log($0) } }

    /// `_sigma_to_t`: fractional training timestep for σ, interpolating linearly in log σ.
    static func sigmaToT(_ sigma: Double, logSigmas: [Float]) -> Double {
        let n = logSigmas.count
        guard n >= 2 else { return 0 }
        let ls = log(max(sigma, 1e-10))
        var lo = 0
        for k in 0..<n where ls - Double(logSigmas[k]) >= 0 { lo = k }
        lo = min(lo, n - 2)
        let hi = lo + 1
        let low = logSigmas[lo], high = logSigmas[hi]
        var w = (Double(low) - ls) / Double(low - high)
        w = min(max(w, 0), 1)
        return (1 - w) * Double(lo) + w * Double(hi)
    }

    /// VP coefficients for a VE σ: α = 1/sqrt(σ²+1), s = σ·α (float32, as diffusers).
    @inline(__always)
    static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let a = 1 / (sigma * sigma + 1).squareRoot()
        return (a, sigma * a)
    }

    /// λ = log α − log s (float32; +∞ at σ = 0).
    @inline(__always)
    static func lambda(_ sigma: Float) -> Float {
        let (a, s) = alphaSigma(sigma)
        return Foundation.log(a) - Foundation.log(s)
    }
}

/// The Beta distribution quantile (inverse regularised incomplete beta), accurate to ~1e−14.
enum BetaDistribution {
    static func quantile(_ p: Double, a: Double, b: Double) -> Double {
        if p <= 0 { return 0 }
        if p >= 1 { return 1 }
        var lo = 0.0, hi = 1.0
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if regularizedIncompleteBeta(mid, a: a, b: b) < p { lo = mid } else { hi = mid }
            if hi - lo < 1e-16 { break }
        }
        return 0.5 * (lo + hi)
    }

    /// I_x(a, b) by the continued fraction (Numerical Recipes `betacf`, modified Lentz).
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let lbeta = lgamma(a + b) - lgamma(a) - lgamma(b)
        let front = exp(lbeta + a * log(x) + b * log(1 - x))
        if x < (a + 1) / (a + b + 2) {
            return front * continuedFraction(x, a: a, b: b) / a
        }
        return 1 - front * continuedFraction(1 - x, a: b, b: a) / b
    }

    private static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...500 {
            let m = Double(m)
            var aa = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + aa * d; if abs(d) < tiny { d = tiny }
            c = 1 + aa / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let del = d * c
            h *= del
            if abs(del - 1) < 1e-16 { break }
        }
        return h
    }
}
