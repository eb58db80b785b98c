import Foundation

/// How many singular values a re-factorised module keeps: a fixed rank, or one of
/// kohya `resize_lora.py`'s dynamic rules (NUMERICS §3.2), always capped by the
/// requested maximum rank.
///
/// Dynamic rules follow the kohya semantics this project specifies: the index found by
/// the rule is clamped to `[1, len(S) − 1]` and the rank is that index + 1; a zero matrix
/// (`S[0] ≤ 1e-6`) gets rank 1; the result is capped at the maximum rank.
///
/// ```swift
/// let rule = try RankRule(parsing: "sv_fro:0.9")
/// let choice = rule.choose(singularValues: s, maxRank: 32)
/// print(choice.rank, choice.frobeniusRetained)
/// ```
public enum RankRule: Sendable, Hashable, CustomStringConvertible {
    /// Keep the maximum rank.
    case fixed
    /// `sv_ratio:X`: keep the singular values larger than `S[0] / X` (X ≥ 1).
    case svRatio(Double)
    /// `sv_fro:X`: keep enough singular values for a fraction X of the Frobenius norm.
    case svFrobenius(Double)
    /// `sv_cumulative:X`: keep enough singular values for a fraction X of their sum.
    case svCumulative(Double)

    /// kohya's smallest singular value that counts as nonzero.
    public static let minimumSingularValue: Float = 1e-6

    /// Parses `sv_ratio:X`, `sv_fro:X` or `sv_cumulative:X` (also `fixed`).
    /// - Throws: ``RankToolsError/invalidOption(_:)`` for an unknown rule or a parameter that is not positive and finite.
    public init(parsing text: String) throws(RankToolsError) {
        if text == "fixed" { self = .fixed; return }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let value = Double(parts[1]), value.isFinite, value > 0 else {
            throw .invalidOption("dynamic rank rule \"\(text)\": expected sv_ratio:X, sv_fro:X or sv_cumulative:X with X > 0")
        }
        switch parts[0] {
        case "sv_ratio": self = .svRatio(value)
        case "sv_fro": self = .svFrobenius(value)
        case "sv_cumulative": self = .svCumulative(value)
        default: throw .invalidOption("unknown dynamic rank rule \"\(parts[0])\" (sv_ratio, sv_fro, sv_cumulative)")
        }
    }

    /// Whether the rank depends on the spectrum.
    public var isDynamic: Bool { self != .fixed }

    /// kohya's `--dynamic_method` name, nil for ``fixed``.
    public var methodName: String? {
        switch self {
        case .fixed: nil
        case .svRatio: "sv_ratio"
        case .svFrobenius: "sv_fro"
        case .svCumulative: "sv_cumulative"
        }
    }

    /// The rule's parameter, nil for ``fixed``.
    public var parameter: Double? {
        switch self {
        case .fixed: nil
        case .svRatio(let x), .svFrobenius(let x), .svCumulative(let x): x
        }
    }

    public var description: String {
        guard let name = methodName, let p = parameter else { return "fixed" }
        return "\(name):\(PythonFloat.format(p))"
    }

    /// Chooses the rank for a module with singular values `s` (descending; values past
    /// `s.count` up to `length` are taken as zero, so `length` is `min(out, in)`).
    /// - Parameters:
    ///   - s: the known singular values, descending.
    ///   - length: len(S) of the full spectrum (≥ `s.count`); defaults to `s.count`.
    ///   - maxRank: the cap (`--rank`, or `--conv-rank` for conv modules).
    public func choose(singularValues s: [Float], length: Int? = nil, maxRank: Int) -> RankChoice {
        let n = max(length ?? s.count, s.count)
        let full = s + [Float](repeating: 0, count: n - s.count)
        var rank: Int
        switch self {
        case .fixed:
            rank = maxRank
        case .svRatio(let x):
            let threshold = (full.first ?? 0) / Float(x)
            rank = Self.clampIndex(full.filter { $0 > threshold }.count, n) + 1
        case .svCumulative(let x):
            rank = Self.clampIndex(Self.searchSorted(Self.normalisedCumsum(full), Float(x)) + 1, n) + 1
        case .svFrobenius(let x):
            rank = Self.clampIndex(Self.searchSorted(Self.normalisedCumsum(full.map { $0 * $0 }), Float(x * x)) + 1, n) + 1
        }
        if (full.first ?? 0) <= Self.minimumSingularValue {
            rank = 1
        } else if rank > maxRank {
            rank = maxRank
        }
        rank = max(1, rank)
        return RankChoice(rank: rank, spectrum: full)
    }

    static func clampIndex(_ i: Int, _ n: Int) -> Int { max(1, min(i, n - 1)) }

    /// Prefix sums accumulated in Double and rounded to Float per prefix (torch CPU
    /// `cumsum`), divided by the Float total.
    static func normalisedCumsum(_ x: [Float]) -> [Float] {
        var acc = 0.0
        var out = [Float](repeating: 0, count: x.count)
        for i in x.indices {
            acc += Double(x[i])
            out[i] = Float(acc)
        }
        let total = Float(acc)
        guard total > 0 else { return out }
        return out.map { $0 / total }
    }

    /// The first index where `sorted[i] ≥ value` (torch `searchsorted`, left).
    static func searchSorted(_ sorted: [Float], _ value: Float) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// The rank a ``RankRule`` chose for one module, with kohya's `--verbose` figures.
public struct RankChoice: Sendable, Hashable, Codable {
    /// The rank kept.
    public var rank: Int
    /// Σ S[:rank] / Σ S (1 for a zero matrix).
    public var sumRetained: Double
    /// ‖S[:rank]‖₂ / ‖S‖₂ (1 for a zero matrix).
    public var frobeniusRetained: Double
    /// S[0] / S[rank − 1] (nil when S[rank − 1] is 0).
    public var maxRatio: Double?

    /// Figures for keeping `rank` values of `spectrum` (descending).
    public init(rank: Int, spectrum: [Float]) {
        self.rank = rank
        let kept = spectrum.prefix(rank)
        let sum = spectrum.reduce(0.0) { $0 + Double(abs($1)) }
        let keptSum = kept.reduce(0.0) { $0 + Double(abs($1)) }
        let fro = spectrum.reduce(0.0) { $0 + Double($1) * Double($1) }
        let keptFro = kept.reduce(0.0) { $0 + Double($1) * Double($1) }
        sumRetained = sum > 0 ? keptSum / sum : 1
        frobeniusRetained = fro > 0 ? (keptFro / fro).squareRoot() : 1
        let last = rank - 1 < spectrum.count ? Double(spectrum[rank - 1]) : 0
        maxRatio = last != 0 ? Double(spectrum.first ?? 0) / last : nil
    }
}

/// Python's `str(float)` for the values the tools write into metadata (`16.0`, `0.9`).
enum PythonFloat {
    static func format(_ x: Double) -> String {
        if x.isFinite, x == x.rounded(), abs(x) < 1e16 { return String(format: "%.1f", x) }
        return "\(x)"
    }
}
