import Foundation
import Testing
@testable import LoRAKit

/// `SVDMerge` against kohya's svd_merge algorithm run with torch (`svd_merge_r3_c2_noclamp.expected.safetensors`:
/// sd1_kohya × 0.6 + sd1_second × 0.4, rank 3, conv rank 2). Products compared sign-free:
/// max |Δ| ≤ 2e-5 · max |ΔW_torch|. The 0.99-quantile clamp is on signed values, so its threshold depends
/// on the SVD library's choice of signs; it is checked separately on torch's own factors (`clamp_probes`).
@Suite("RankTools SVD merge")
struct RankToolsMergeTests {
    @Test("SVD merge matches torch per module: rank, alpha = rank, reconstructed ΔW")
    func againstTorch() throws {
        let a = try LoRAFile(contentsOf: RankFixtures.mergeURL("lora/sd1_kohya.safetensors"))
        let b = try LoRAFile(contentsOf: RankFixtures.mergeURL("lora/sd1_second.safetensors"))
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("m.safetensors")
        let report = try SVDMerge.merge([(a, MergeSource(lora: a, strength: 0.6)), (b, MergeSource(lora: b, strength: 0.4))],
                                        options: .init(rank: 3, convRank: 2, clampQuantile: nil), output: out)
        let mine = try SafetensorsFile(contentsOf: out)
        let expected = try SafetensorsFile(contentsOf: RankFixtures.url("svd_merge_r3_c2_noclamp.expected.safetensors"))
        #expect(RankFixtures.stems(mine) == RankFixtures.stems(expected))
        #expect(report.modulesWritten == RankFixtures.stems(expected).count)
        #expect(report.skipped.isEmpty)
        var worst: Float = 0
        for stem in RankFixtures.stems(expected) {
            let x = try RankFixtures.effectiveDelta(mine, stem: stem), y = try RankFixtures.effectiveDelta(expected, stem: stem)
            #expect(x.rank == y.rank && x.alpha == Float(x.rank), "\(stem)")
            let err = RankFixtures.relativeError(x.delta, y.delta)
            worst = max(worst, err)
            #expect(err <= 2e-5, "\(stem): \(err)")
        }
        #expect(worst > 0)
        let meta = mine.metadata ?? [:]
        #expect(meta["ss_network_dim"] == "3" && meta["ss_network_alpha"] == "3" && meta["lorakit_merge_method"] == "svd")
        #expect(meta["sshs_model_hash"] == mine.computeHashes().sshsModelHash)
    }

    @Test("The quantile clamp on torch's factors gives torch's clamped factors exactly")
    func clampOnTorchFactors() throws {
        let probes = try SafetensorsFile(contentsOf: RankFixtures.url("clamp_probes.safetensors"))
        let stems = Set(probes.names.map { String($0[..<$0.lastIndex(of: ".")!]) }).sorted()
        #expect(stems.count == 6)
        var changed = 0
        for stem in stems {
            var up = try probes.tensor(named: stem + ".up").floats(), down = try probes.tensor(named: stem + ".down").floats()
            let before = up + down
            QuantileClamp.apply(up: &up, down: &down, quantile: 0.99)
            #expect(up == (try probes.tensor(named: stem + ".up_clamped").floats()), "\(stem)")
            #expect(down == (try probes.tensor(named: stem + ".down_clamped").floats()), "\(stem)")
            if before != up + down { changed += 1 }
        }
        #expect(changed == stems.count)
    }

    @Test("Without clamping, a rank at least the summed ranks reproduces the exact sum")
    func exactWhenRankSuffices() throws {
        let a = try LoRAFile(contentsOf: RankFixtures.mergeURL("lora/sd1_kohya.safetensors"))
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("m.safetensors")
        _ = try SVDMerge.merge([(a, MergeSource(lora: a, strength: 0.7))], options: .init(rank: 64, clampQuantile: nil), output: out)
        let merged = try LoRAFile(contentsOf: out)
        for module in a.modules {
            let m = try #require(merged.module(for: module.target))
            let shape = try module.naturalDelta().shape
            var expected = try module.deltaWeight(shape: shape)
            for i in expected.indices { expected[i] *= 0.7 }
            #expect(RankFixtures.relativeError(try m.deltaWeight(shape: shape), expected) < 1e-4, "\(module.target)")
        }
    }

    @Test("LoHa modules merge through their dense ΔW; IA³ is skipped")
    func otherFamilies() throws {
        let loha = try LoRAFile(contentsOf: Fixtures.url("loha.safetensors", subdirectory: "lora"))
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("m.safetensors")
        let report = try SVDMerge.merge([(loha, MergeSource(lora: loha, strength: 1))], options: .init(rank: 64, clampQuantile: nil), output: out)
        let merged = try LoRAFile(contentsOf: out)
        #expect(report.modulesWritten == loha.modules.filter { $0.family.isAdditive && !$0.isDoRA }.count)
        // Linear modules only: conv ranks are capped at min(out, in channels), as kohya does, below the ΔW's rank.
        for module in loha.modules where module.family.isAdditive && (try? module.naturalDelta().shape.count) == 2 {
            let m = try #require(merged.module(for: module.target))
            let shape = try module.naturalDelta().shape
            #expect(RankFixtures.relativeError(try m.deltaWeight(shape: shape), try module.deltaWeight(shape: shape)) < 1e-4)
        }
        #expect(throws: RankToolsError.self) {
            try SVDMerge.merge([(loha, MergeSource(lora: loha, strength: 1))], options: .init(rank: 0), output: folder.appendingPathComponent("x.safetensors"))
        }
    }
}
