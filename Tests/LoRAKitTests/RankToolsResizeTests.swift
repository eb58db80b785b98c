import Foundation
import Testing
@testable import LoRAKit

/// `LoRAResize` against kohya's resize algorithm run with torch.linalg.svd (`cases.json`,
/// `resize_<case>.expected.safetensors`). Singular vectors differ in sign, so the effective
/// products (α/r)·up·down are compared: max |Δ| ≤ 2e-5 · max |ΔW_torch| per module.
@Suite("RankTools resize")
struct RankToolsResizeTests {
    static let tolerance: Float = 2e-5

    static func cases() throws -> [[String: Any]] {
        try RankFixtures.json("cases.json")["resize"] as! [[String: Any]]
    }

    @Test("Every resize case matches torch: ranks, alphas, reconstructed ΔW, metadata")
    func againstTorch() throws {
        let input = try LoRAFile(contentsOf: RankFixtures.url("resize_input.safetensors"))
        let before = input.file.computeHashes()
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases = try Self.cases()
        #expect(cases.count == 5)
        var worst: Float = 0
        for c in cases {
            let name = c["name"] as! String
            let rule: RankRule = if let m = c["method"] as? String, let p = c["param"] as? Double {
                try RankRule(parsing: "\(m):\(p)")
            } else { .fixed }
            let out = folder.appendingPathComponent(name + ".safetensors")
            let report = try LoRAResize.resize(input, options: .init(rank: c["rank"] as! Int, convRank: c["conv_rank"] as? Int, rule: rule), output: out)
            let mine = try SafetensorsFile(contentsOf: out)
            let expected = try SafetensorsFile(contentsOf: RankFixtures.url("resize_\(name).expected.safetensors"))
            let modules = c["modules"] as! [String: [String: Any]]
            #expect(RankFixtures.stems(mine) == modules.keys.sorted())
            #expect(report.modules.count == modules.count)
            for (stem, info) in modules {
                let a = try RankFixtures.effectiveDelta(mine, stem: stem)
                let b = try RankFixtures.effectiveDelta(expected, stem: stem)
                #expect(a.rank == info["rank"] as! Int, "\(name) \(stem)")
                #expect(abs(a.alpha - Float(info["alpha"] as! Double)) <= 1e-6, "\(name) \(stem)")
                let err = RankFixtures.relativeError(a.delta, b.delta)
                worst = max(worst, err.isNaN ? 0 : err)
                #expect(err <= Self.tolerance, "\(name) \(stem): relative error \(err)")
                let row = try #require(report.modules.first { $0.name == stem })
                #expect(abs(row.choice.frobeniusRetained - (info["fro_retained"] as! Double)) < 1e-4)
                #expect(abs(row.choice.sumRetained - (info["sum_retained"] as! Double)) < 1e-4)
            }
            let meta = mine.metadata ?? [:]
            if rule.isDynamic {
                #expect(meta["ss_network_dim"] == "Dynamic" && meta["ss_network_alpha"] == "Dynamic")
                #expect(meta["ss_training_comment"]?.hasPrefix("Dynamic resize with \(rule.methodName!)") == true)
            } else {
                #expect(meta["ss_network_dim"] == "\(c["rank"] as! Int)")
                #expect(meta["ss_training_comment"]?.hasPrefix("dimension is resized from 8 to ") == true)
            }
            #expect(meta["ss_base_model_version"] == "sd_v1")
            #expect(meta["sshs_model_hash"] == mine.computeHashes().sshsModelHash)
            #expect(meta["sshs_legacy_hash"] != nil)
        }
        #expect(worst > 0)  // the comparison ran on real numbers
        #expect(input.file.computeHashes() == before)
    }

    @Test("Zero module gets rank 1; conv modules keep 4-D factors")
    func shapes() throws {
        let input = try LoRAFile(contentsOf: RankFixtures.url("resize_input.safetensors"))
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("r.safetensors")
        _ = try LoRAResize.resize(input, options: .init(rank: 4, convRank: 2), output: out)
        let f = try SafetensorsFile(contentsOf: out)
        #expect(f.info(named: "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.lora_down.weight")?.shape == [1, 48])
        #expect(f.info(named: "lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight")?.shape == [32, 2, 1, 1])
        #expect(f.info(named: "lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight")?.shape == [2, 32, 3, 3])
        #expect(f.info(named: "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight")?.shape == [2, 48, 1, 1])
    }

    @Test("Bad options and unsafe outputs are refused; nothing is written")
    func refusals() throws {
        let url = RankFixtures.url("resize_input.safetensors")
        let input = try LoRAFile(contentsOf: url)
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("x.safetensors")
        #expect(throws: RankToolsError.self) { try LoRAResize.resize(input, options: .init(rank: 0), output: out) }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(throws: RankToolsError.self) { try LoRAResize.resize(input, options: .init(rank: 2, overwrite: true), output: url) }
        _ = try LoRAResize.resize(input, options: .init(rank: 2), output: out)
        #expect(throws: RankToolsError.self) { try LoRAResize.resize(input, options: .init(rank: 2), output: out) }
        let loha = try LoRAFile(contentsOf: Fixtures.url("loha.safetensors", subdirectory: "lora"))
        #expect(throws: RankToolsError.self) { try LoRAResize.resize(loha, options: .init(rank: 2), output: folder.appendingPathComponent("l.safetensors")) }
    }

    /// Deterministic factors in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1
        }
    }

    @Test("Growing past the old rank keeps the rank asked for (kohya): zero up columns, orthonormal down rows, ΔW unchanged",
          arguments: [([40, 4], [4, 30]), ([16, 4, 1, 1], [4, 6, 3, 3])])
    func growRank(upShape: [Int], downShape: [Int]) throws {
        let up = Self.values(upShape.reduce(1, *), seed: 1), down = Self.values(downShape.reduce(1, *), seed: 2)
        let rows = upShape[0], columns = downShape.dropFirst().reduce(1, *), newRank = 12
        let resized = try LoRAResize.resize(up: up, upShape: upShape, down: down, downShape: downShape, scale: 0.5,
                                            maxRank: newRank, rule: .fixed)
        #expect(resized.downShape == [newRank] + downShape.dropFirst())
        #expect(resized.upShape == (upShape.count == 4 ? [rows, newRank, 1, 1] : [rows, newRank]))
        #expect(resized.alpha == 0.5 * Float(newRank))
        #expect(resized.choice.rank == newRank)
        // The directions past the old rank carry exactly zero.
        for i in 0..<rows {
            for j in 4..<newRank { #expect(resized.up[i * newRank + j] == 0) }
        }
        // Down rows orthonormal.
        var worstGram: Float = 0
        for a in 0..<newRank {
            for b in 0..<newRank {
                var dot: Float = 0
                for c in 0..<columns { dot += resized.down[a * columns + c] * resized.down[b * columns + c] }
                worstGram = max(worstGram, abs(dot - (a == b ? 1 : 0)))
            }
        }
        #expect(worstGram < 1e-5, "D·Dᵀ off the identity by \(worstGram)")
        // The product (α/r · up · down with α/r kept) is the old one.
        var worst: Float = 0, scale: Float = 0
        for i in 0..<rows {
            for c in 0..<columns {
                var old: Float = 0, new: Float = 0
                for k in 0..<4 { old += up[i * 4 + k] * down[k * columns + c] }
                for k in 0..<newRank { new += resized.up[i * newRank + k] * resized.down[k * columns + c] }
                worst = max(worst, abs(old - new))
                scale = max(scale, abs(old))
            }
        }
        #expect(worst <= 1e-5 * scale, "ΔW off by \(worst) of \(scale)")
    }

    @Test("Resizing reports progress once per resized module, in order")
    func progress() throws {
        let input = try LoRAFile(contentsOf: RankFixtures.url("resize_input.safetensors"))
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let seen = LockedSteps()
        let report = try LoRAResize.resize(input, options: .init(rank: 12), output: folder.appendingPathComponent("grown.safetensors"),
                                           progress: { seen.append($0) })
        let steps = seen.steps
        try #require(!report.modules.isEmpty)
        #expect(steps.map(\.done) == Array(1...report.modules.count))
        #expect(steps.allSatisfy { $0.total == report.modules.count })
        #expect(steps.map(\.module) == report.modules.map(\.name))
    }

    final class LockedSteps: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [LoRAResize.Progress] = []
        var steps: [LoRAResize.Progress] { lock.withLock { list } }
        func append(_ p: LoRAResize.Progress) { lock.withLock { list.append(p) } }
    }
}
