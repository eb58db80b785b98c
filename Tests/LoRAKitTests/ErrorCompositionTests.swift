import Foundation
import Testing
@testable import LoRAKit

/// Errors of one layer reach the caller of another as typed values: the model layer's error inside a merge or
/// extraction failure, the safetensors error inside a model error; never their text.
@Suite("Errors compose")
struct ErrorCompositionTests {
    /// A copy of the SD1 fixture whose UNet is sharded through an index that names a shard not in the folder.
    private func shardedWithMissingShard(in tmp: URL) throws -> (folder: URL, index: URL) {
        let folder = tmp.appendingPathComponent("sd1-sharded")
        try ModelFixtures.shardedSD1(at: folder)
        let unet = folder.appendingPathComponent("unet")
        try FileManager.default.removeItem(at: unet.appendingPathComponent("diffusion_pytorch_model-00002-of-00002.safetensors"))
        return (folder, unet.appendingPathComponent("diffusion_pytorch_model.safetensors.index.json"))
    }

    @Test("an extraction from a sharded model with a missing shard surfaces the model layer's error")
    func extractionKeepsTheModelError() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let (folder, index) = try shardedWithMissingShard(in: tmp)
        let out = tmp.appendingPathComponent("x.safetensors")
        let expected = ModelFileError.invalidShardIndex(path: index.path, reason: "shard diffusion_pytorch_model-00002-of-00002.safetensors is missing")
        #expect(throws: expected) { try ModelBundle.open(folder) }
        #expect(throws: RankToolsError.model(expected)) {
            try LoRAExtraction.extract(base: ExtractFixtures.base, tuned: folder, options: .init(), output: out)
        }
        #expect(throws: MergeError.model(expected)) {
            try ModelMerger.merge(into: folder, sources: [MergeSource(lora: try LoRAFile(contentsOf: MergeFixtures.url("lora/sd1_kohya.safetensors")), strength: 1)],
                                  output: tmp.appendingPathComponent("merged"))
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(RankToolsError.model(expected).description
            == "\(index.path): cannot extract from this model: invalid shard index: shard diffusion_pytorch_model-00002-of-00002.safetensors is missing")
    }

    @Test("a weight file that is not safetensors: the safetensors error inside the model error inside the feature's error")
    func unreadableWeightsNest() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let folder = tmp.appendingPathComponent("sd1-broken")
        try FileManager.default.copyItem(at: MergeFixtures.url("sd1"), to: folder)
        let unet = folder.appendingPathComponent("unet/diffusion_pytorch_model.safetensors")
        try FileManager.default.removeItem(at: unet)
        try Data([0x01, 0x02, 0x03]).write(to: unet)
        let safetensors: SafetensorsError
        do { _ = try SafetensorsFile(contentsOf: unet); Issue.record("expected a failure"); return } catch { safetensors = error }
        let model = ModelFileError.unreadable(path: unet.path, error: safetensors)
        #expect(throws: RankToolsError.model(model)) {
            try LoRAExtraction.extract(base: folder, tuned: ExtractFixtures.base, options: .init(), output: tmp.appendingPathComponent("x.safetensors"))
        }
        #expect(throws: MergeError.model(model)) {
            try MergeTarget.detect(folder)
        }
        // A file that cannot be read keeps the safetensors layer's words after its path.
        #expect(MergeError.model(model).description == "\(unet.path): \(safetensors)")
    }

    @Test("nothing at the path: each feature says what it could not do, with the model layer's reason")
    func missingModelMessages() {
        let missing = ModelFileError.notFound(path: "/m")
        #expect(MergeError.model(missing).description == "/m: cannot merge into this model: no such file or folder")
        #expect(RankToolsError.model(missing).description == "/m: cannot extract from this model: no such file or folder")
        #expect(missing.description == "/m: no such file or folder")
        #expect(missing.path == "/m" && missing.detail == "no such file or folder")
        let part = ModelFileError.parameterNotFound(part: .unet, name: "x")
        #expect(part.path == nil && part.description == part.detail)
        #expect(MergeError.model(.notAModel(path: "/m", reason: "a PNG image")).description == "/m: cannot merge into this model: a PNG image")
    }

    @Test("an SVD merge of LoRAs for different families throws the rank tools' own error, not a merge error")
    func svdMergeMixedFamilies() throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let sd1 = try LoRAFile(contentsOf: MergeFixtures.url("lora/sd1_kohya.safetensors"))
        let sdxl = try LoRAFile(contentsOf: MergeFixtures.url("lora/sdxl_kohya_sgm.safetensors"))
        let sources = [(sd1, MergeSource(lora: sd1, name: "a", strength: 1)), (sdxl, MergeSource(lora: sdxl, name: "b", strength: 1))]
        let out = tmp.appendingPathComponent("m.safetensors")
        #expect(throws: RankToolsError.mixedBaseModels(loras: ["a", "b"], families: [.sd1, .sdxl])) {
            try SVDMerge.merge(sources, options: .init(rank: 2), output: out)
        }
        #expect(throws: MergeError.mixedBaseModels(loras: ["a", "b"], families: [.sd1, .sdxl])) {
            try LoRAConcatenation.merge(sources, output: out)
        }
        // The two features word the refusal the same way.
        #expect(RankToolsError.mixedBaseModels(loras: ["a", "b"], families: [.sd1, .sdxl]).description
            == MergeError.mixedBaseModels(loras: ["a", "b"], families: [.sd1, .sdxl]).description)
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test("errors compare by their typed underlying values")
    func equality() {
        let a = SafetensorsError.headerTooSmall(fileSize: 3), b = SafetensorsError.headerTooSmall(fileSize: 4)
        #expect(MergeError.model(.unreadable(path: "/p", error: a)) == MergeError.model(.unreadable(path: "/p", error: a)))
        #expect(MergeError.model(.unreadable(path: "/p", error: a)) != MergeError.model(.unreadable(path: "/p", error: b)))
        #expect(RankToolsError.model(.notFound(path: "/p")) != RankToolsError.model(.notFound(path: "/q")))
        #expect(RankToolsError.model(.notFound(path: "/p")) != RankToolsError.unsupportedModel(path: "/p", reason: "no such file or folder"))
        #expect(LoRALibraryError.invalidFile(path: "/p", underlying: a) != LoRALibraryError.invalidFile(path: "/p", underlying: b))
        #expect(LoRALibraryError.invalidFile(path: "/p", underlying: a).description == "cannot read /p: \(a)")
    }
}
