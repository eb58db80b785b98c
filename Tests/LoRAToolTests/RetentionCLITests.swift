import Foundation
import LoRAKit
import Testing

/// SVD merge and extract report the retention of the factors as written (after kohya's 0.99-quantile clamp)
/// against the exact ΔW, beside the rank cut's figure and the clamp's share.
@Suite("lora-tool reports the retention of what it wrote")
struct RetentionCLITests {
    static let kohya = CLI.fixture("merge/lora/sd1_kohya.safetensors")
    static let second = CLI.fixture("merge/lora/sd1_second.safetensors")

    /// up·down·scale of each plain low-rank module, flattened [out, in·k·k], keyed by target.
    static func deltas(_ path: String, strength: Double) throws -> [ModuleTarget: [Double]] {
        let lora = try LoRAFile(contentsOf: URL(fileURLWithPath: path))
        var result: [ModuleTarget: [Double]] = [:]
        for module in lora.modules {
            let f = try #require(module.lowRankFactors, "\(module.target)")
            let rows = f.upShape[0], rank = f.downShape[0], columns = f.down.count / rank
            var d = [Double](repeating: 0, count: rows * columns)
            for i in 0..<rows {
                for k in 0..<rank {
                    let u = Double(f.up[i * rank + k]) * Double(module.scale) * strength
                    for j in 0..<columns { d[i * columns + j] += u * Double(f.down[k * columns + j]) }
                }
            }
            result[module.target] = d
        }
        return result
    }

    @Test("merge --rank 4: the written factors' retention against the exact Σ λ·ΔW, computed here from the files, is reported")
    func svdMergeRetention() throws {
        let tmp = try CLI.makeTemporaryFolder("retention")
        defer { CLI.removeTemporaryFolder(tmp) }
        let out = tmp.appendingPathComponent("svd.safetensors").path
        let r = try CLI.run(["merge", "--lora", Self.kohya + ":0.7", "--lora", Self.second + ":0.5", "--rank", "4", "--json", "-o", out])
        #expect(r.status == 0, "\(r)")
        let report = try CLI.jsonObject(r)
        let written = try #require(report["written"] as? [String: Any], "\(r.stdout)")
        let reported = try #require((written["mean_frobenius_retained"] as? NSNumber)?.doubleValue)
        let meanShift = try #require((written["mean_clamp_shift"] as? NSNumber)?.doubleValue)
        let maxShift = try #require((written["max_clamp_shift"] as? NSNumber)?.doubleValue)
        let rankCut = try #require((report["mean_frobenius_retained"] as? NSNumber)?.doubleValue)

        // The exact ΔW of every module from the inputs, and the written one from the output.
        var exact = try Self.deltas(Self.kohya, strength: 0.7)
        for (target, d) in try Self.deltas(Self.second, strength: 0.5) {
            exact[target] = zip(exact[target] ?? [Double](repeating: 0, count: d.count), d).map { $0 + $1 }
        }
        let merged = try Self.deltas(out, strength: 1)
        #expect(merged.count == 32 && Set(merged.keys) == Set(exact.keys))
        var retained: [Double] = []
        for (target, w) in merged {
            let x = try #require(exact[target])
            let norm = x.map { $0 * $0 }.reduce(0, +)
            let error = zip(x, w).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            retained.append(max(0, 1 - error / norm).squareRoot())
        }
        let mean = retained.reduce(0, +) / Double(retained.count)
        #expect(abs(mean - reported) < 1e-4, "reported \(reported), measured on the file \(mean)")
        // The clamp moved this merge: what was written keeps less than the rank cut promises.
        #expect(reported < rankCut - 0.05, "written \(reported) vs rank cut \(rankCut)")
        #expect(meanShift > 0.05 && maxShift >= meanShift)

        let text = try CLI.run(["merge", "--lora", Self.kohya + ":0.7", "--lora", Self.second + ":0.5", "--rank", "4",
                                "-o", tmp.appendingPathComponent("text.safetensors").path])
        let line = try #require(text.stdout.split(separator: "\n").dropFirst().first.map(String.init), "\(text)")
        #expect(line == "  mean Frobenius retained \(String(format: "%.1f", reported * 100))% of the exact ΔW as written "
                + "(rank cut alone \(String(format: "%.1f", rankCut * 100))%; the 0.99-quantile clamp moved the result "
                + "\(String(format: "%.1f", meanShift * 100))% on average, \(String(format: "%.1f", maxShift * 100))% at worst)", "\(text.stdout)")
    }

    @Test("extract: per-module and mean retention of the written factors; never above the rank cut, equal to it where nothing was clamped")
    func extractRetention() throws {
        let tmp = try CLI.makeTemporaryFolder("retention-extract")
        defer { CLI.removeTemporaryFolder(tmp) }
        let tuned = try ExtractCLITests.makeTuned(in: tmp).path
        let r = try CLI.run(["extract", "--base", CLI.fixture("merge/sd1"), "--tuned", tuned, "--json",
                             "-o", tmp.appendingPathComponent("e.safetensors").path])
        #expect(r.status == 0, "\(r)")
        let report = try CLI.jsonObject(r)
        let written = try #require(report["written"] as? [String: Any])
        let modules = try #require(report["modules"] as? [[String: Any]])
        var unclamped = 0, shifts: [Double] = [], retained: [Double] = []
        for m in modules {
            let w = try #require(m["written"] as? [String: Any], "\(m)")
            let cut = try #require((m["frobenius_retained"] as? NSNumber)?.doubleValue)
            let kept = try #require((w["frobenius_retained"] as? NSNumber)?.doubleValue)
            let shift = try #require((w["clamp_shift"] as? NSNumber)?.doubleValue)
            #expect(kept <= cut + 1e-5, "\(m["name"] ?? "?"): written \(kept) above the optimal rank cut \(cut)")
            if shift < 1e-7 {
                unclamped += 1
                #expect(abs(kept - cut) < 1e-4, "\(m["name"] ?? "?"): nothing clamped, yet \(kept) vs \(cut)")
            }
            shifts.append(shift)
            retained.append(kept)
        }
        #expect(unclamped > 0 && unclamped < modules.count, "\(unclamped) of \(modules.count) modules unclamped")
        let mean = try #require((written["mean_frobenius_retained"] as? NSNumber)?.doubleValue)
        #expect(abs(mean - retained.reduce(0, +) / Double(retained.count)) < 1e-9)
        #expect((written["max_clamp_shift"] as? NSNumber)?.doubleValue == shifts.max())
    }
}
