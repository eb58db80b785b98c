import Foundation
import Testing
@testable import LoRAKit

/// Dynamic-rank rules and the quantile clamp against the torch re-implementation (`rules.json`).
@Suite("RankTools rules")
struct RankToolsRuleTests {
    @Test("Every rule on known spectra gives the torch rank")
    func ruleTable() throws {
        let table = try RankFixtures.json("rules.json")["rank_rules"] as! [[String: Any]]
        #expect(table.count > 100)
        for row in table {
            let values = (row["values"] as! [Double]).map(Float.init)
            let rule: RankRule
            if let method = row["method"] as? String, let p = row["param"] as? Double {
                rule = try RankRule(parsing: "\(method):\(p)")
            } else {
                rule = .fixed
            }
            let choice = rule.choose(singularValues: values, maxRank: row["max_rank"] as! Int)
            #expect(choice.rank == row["rank"] as! Int, "\(row["spectrum"]!) \(rule) cap \(row["max_rank"]!)")
        }
    }

    @Test("Spectrum padding: zeros past the known values count in len(S)")
    func padding() {
        // Two known values of a 10-long spectrum: sv_cumulative reaches 1 at index 1, so rank 1+1+1 = 3 capped at 8.
        let choice = RankRule.svCumulative(0.99).choose(singularValues: [2, 1], length: 10, maxRank: 8)
        #expect(choice.rank == 3)
        #expect(abs(choice.frobeniusRetained - 1) < 1e-12)
        #expect(RankRule.svRatio(2).choose(singularValues: [0], length: 4, maxRank: 8).rank == 1)
    }

    @Test("Parsing rules and refusing bad ones")
    func parsing() throws {
        #expect(try RankRule(parsing: "sv_fro:0.9") == .svFrobenius(0.9))
        #expect(try RankRule(parsing: "sv_ratio:4") == .svRatio(4))
        #expect(try RankRule(parsing: "sv_cumulative:0.5") == .svCumulative(0.5))
        for bad in ["sv_fro", "sv_fro:-1", "sv_fro:nan", "svd:0.5", "sv_ratio:0", ""] {
            #expect(throws: RankToolsError.self) { try RankRule(parsing: bad) }
        }
        #expect(RankRule.svFrobenius(0.9).description == "sv_fro:0.9")
    }

    @Test("Quantile equals torch.quantile (linear interpolation) exactly")
    func quantiles() throws {
        let rows = try RankFixtures.json("rules.json")["quantiles"] as! [[String: Any]]
        #expect(!rows.isEmpty)
        for row in rows {
            let values = (row["values"] as! [Double]).map(Float.init)
            let q = Float(row["q"] as! Double)
            let expected = Float(row["quantile"] as! Double)
            let got = QuantileClamp.quantile(values, q)
            #expect(got == expected, "n \(values.count) q \(q): \(got) vs \(expected)")
        }
    }

    @Test("SVD of a product equals the SVD of the formed matrix")
    func productSVD() throws {
        var rng = HostileInputFuzzTests.SplitMix(state: 0x5EED_0F_5FD)
        let (m, r, n) = (37, 6, 53)
        let up = (0..<(m * r)).map { _ in Float.random(in: -1...1, using: &rng) }
        let down = (0..<(r * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let fast = try SingularDecomposition.product(up: up, down: down, rows: m, rank: r, columns: n)
        let dense = try SingularDecomposition.dense(try BLAS.product(m: m, n: n, k: r, up, down), rows: m, columns: n)
        #expect(fast.count == r)
        for i in 0..<r { #expect(abs(fast.s[i] - dense.s[i]) <= 1e-5 * dense.s[0]) }
        let a = fast.factors(rank: 3), b = dense.factors(rank: 3)
        let pa = try BLAS.product(m: m, n: n, k: 3, a.up, a.down), pb = try BLAS.product(m: m, n: n, k: 3, b.up, b.down)
        #expect(RankFixtures.relativeError(pa, pb) < 1e-4)
    }
}
