import Foundation
import Testing
@testable import LoRAKit

/// A temporary LoRA library folder mixing every LoRA family of the fixtures with files
/// that are not LoRAs, nested folders, duplicate stems, a sidecar and a preview.
struct LibraryFolder {
    let root: URL
    /// The library folder (inside `root`).
    let folder: URL
    /// The index file used by the library below (inside `root`, outside the folder).
    let indexURL: URL

    /// The LoRA files expected as entries, by relative path.
    static let loraFixtures = ["dora_kohya", "dora_peft", "kohya_sd1", "kohya_sdxl_sgm", "lcm_sdxl", "legacy_attn_processor",
                               "loha", "lokr", "lycoris_formula", "peft_sd1"]
    static let mergeFixtures = ["sd1_kohya", "sd1_lcm_style", "sd1_peft", "sd1_second", "sd1_te_qv_only", "sd2_kohya",
                                "sdxl_kohya_sgm", "sdxl_peft"]

    init() throws {
        root = try makeTemporaryFolder()
        folder = root.appendingPathComponent("loras")
        indexURL = root.appendingPathComponent("index/library.json")
        let fm = FileManager.default
        for sub in ["families/lycoris", "sd", "dup/one", "dup/two/deeper", "other", ".hidden"] {
            try fm.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        for name in Self.loraFixtures {
            let dest = ["loha", "lokr", "lycoris_formula"].contains(name) ? "families/lycoris/\(name)" : name
            try copy(Fixtures.url("\(name).safetensors", subdirectory: "lora"), to: dest + ".safetensors")
        }
        for name in Self.mergeFixtures {
            try copy(Fixtures.url("\(name).safetensors", subdirectory: "merge/lora"), to: "sd/\(name).safetensors")
        }
        // Duplicate stems in different folders.
        try copy(Fixtures.url("sd1_kohya.safetensors", subdirectory: "merge/lora"), to: "dup/one/style.safetensors")
        try copy(Fixtures.url("sdxl_kohya_sgm.safetensors", subdirectory: "merge/lora"), to: "dup/two/deeper/style.safetensors")
        // A LoRA with kohya/modelspec names, used as aliases.
        try Self.rewrite(Fixtures.url("sd2_kohya.safetensors", subdirectory: "merge/lora"),
                         metadata: ["ss_output_name": "PixelArt_v2", "modelspec.title": "Pixel Art", "ss_base_model_version": "sd_v2",
                                    "modelspec.trigger_phrase": "pixel art, 8bit"],
                         to: folder.appendingPathComponent("other/px2_final.safetensors"))
        // Sidecar JSON (A1111 user metadata) and a preview image.
        try Data(#"{"description": "my character", "sd version": "SD1", "activation text": "mychar, red hair", "preferred weight": 0.7, "notes": ""}"#.utf8)
            .write(to: folder.appendingPathComponent("kohya_sd1.json"))
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: folder.appendingPathComponent("kohya_sd1.preview.png"))
        // Not LoRAs.
        try copy(Fixtures.url("not_a_lora.safetensors", subdirectory: "lora"), to: "other/not_a_lora.safetensors")
        try copy(Fixtures.url("diffusion_pytorch_model.safetensors", subdirectory: "merge/sd1/unet"), to: "other/unet.safetensors")
        try Self.write(["model.diffusion_model.input_blocks.0.0.weight": [4, 4], "first_stage_model.decoder.conv_in.weight": [4, 4],
                        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": [4, 8]],
                       to: folder.appendingPathComponent("other/checkpoint.safetensors"))
        try Self.write(["encoder.conv_in.weight": [4, 3], "decoder.conv_in.weight": [4, 3], "quant_conv.weight": [8, 8]],
                       to: folder.appendingPathComponent("other/vae.safetensors"))
        try Self.write(["emb_params": [2, 768]], to: folder.appendingPathComponent("other/embedding.safetensors"))
        try Self.write(["clip_l": [1, 768], "clip_g": [1, 1280]], to: folder.appendingPathComponent("other/sdxl_embedding.safetensors"))
        try Self.write(["string_to_param.*": [1, 768], "string_to_token": [1]], to: folder.appendingPathComponent("other/ti_pt.safetensors"))
        let whole = try Data(contentsOf: Fixtures.url("kohya_sd1.safetensors", subdirectory: "lora"))
        try whole.prefix(whole.count / 2).write(to: folder.appendingPathComponent("other/truncated.safetensors"))
        for hostile in ["hostile_header_past_eof", "hostile_not_json", "hostile_overlapping", "hostile_size_mismatch"] {
            try copy(Fixtures.url("\(hostile).safetensors", subdirectory: "safetensors"), to: "other/\(hostile).safetensors")
        }
        try Data([0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]).write(to: folder.appendingPathComponent("other/pickled.safetensors"))
        try Data([0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]).write(to: folder.appendingPathComponent("other/legacy.ckpt"))
        try Data().write(to: folder.appendingPathComponent("other/empty.safetensors"))
        // Ignored: hidden folders, other extensions.
        try copy(Fixtures.url("kohya_sd1.safetensors", subdirectory: "lora"), to: ".hidden/secret.safetensors")
        try Data("notes".utf8).write(to: folder.appendingPathComponent("readme.txt"))
    }

    /// The non-LoRA files and the kind each must be skipped as.
    static let expectedSkips: [String: LoRALibrarySkippedFile.Kind] = [
        "other/not_a_lora.safetensors": .notALoRA,
        "other/unet.safetensors": .modelComponent,
        "other/checkpoint.safetensors": .checkpoint,
        "other/vae.safetensors": .vae,
        "other/embedding.safetensors": .textualInversion,
        "other/sdxl_embedding.safetensors": .textualInversion,
        "other/ti_pt.safetensors": .textualInversion,
        "other/truncated.safetensors": .invalidSafetensors,
        "other/hostile_header_past_eof.safetensors": .invalidSafetensors,
        "other/hostile_not_json.safetensors": .invalidSafetensors,
        "other/hostile_overlapping.safetensors": .invalidSafetensors,
        "other/hostile_size_mismatch.safetensors": .invalidSafetensors,
        "other/pickled.safetensors": .pickle,
        "other/legacy.ckpt": .pickle,
        "other/empty.safetensors": .invalidSafetensors,
    ]

    /// Every entry expected, by relative path.
    static var expectedEntries: Set<String> {
        var out = Set(loraFixtures.map { ["loha", "lokr", "lycoris_formula"].contains($0) ? "families/lycoris/\($0).safetensors" : "\($0).safetensors" })
        out.formUnion(mergeFixtures.map { "sd/\($0).safetensors" })
        out.formUnion(["dup/one/style.safetensors", "dup/two/deeper/style.safetensors", "other/px2_final.safetensors"])
        return out
    }

    /// A library over the folder with its index in `root`.
    func library(cache: Bool = true) -> LoRALibrary {
        LoRALibrary(folder: folder, cache: cache ? .file(indexURL) : .disabled, environment: [:])
    }

    func url(_ relativePath: String) -> URL { folder.appendingPathComponent(relativePath) }

    func remove() { try? FileManager.default.removeItem(at: root) }

    private func copy(_ source: URL, to relativePath: String) throws {
        try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent(relativePath))
    }

    /// A safetensors file of zero-filled F32 tensors.
    static func write(_ shapes: [String: [Int]], metadata: [String: String]? = nil, to url: URL) throws {
        var writer = SafetensorsWriter(metadata: metadata)
        for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
            writer.add(name: name, shape: shape, floats: [Float](repeating: 0, count: shape.reduce(1, *)))
        }
        try writer.write(to: url, overwrite: true)
    }

    /// A copy of `source` with its metadata replaced.
    static func rewrite(_ source: URL, metadata: [String: String], to url: URL) throws {
        let file = try SafetensorsFile(contentsOf: source)
        var writer = SafetensorsWriter(metadata: metadata)
        for info in file.tensors { writer.add(file.tensor(info)) }
        try writer.write(to: url, overwrite: true)
    }
}
