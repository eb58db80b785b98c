import Foundation
import Testing
@testable import LoRAKit

/// The diffusers ↔ original name table against the map the fixture script proved with
/// diffusers' own converters (`convert_ldm_unet_checkpoint`, `convert_ldm_clip_checkpoint`,
/// `convert_open_clip_checkpoint`), in both directions — including SDXL's `text_projection`, which
/// LDM files store transposed.
@Suite("Checkpoint name tables")
struct CheckpointNamesTests {
    struct Entry {
        var component: ModelComponent
        var name: String
        var ldmKey: String
        var rows: [Int]?
        var transposed: Bool
    }

    static func entries(_ family: String) throws -> [Entry] {
        let url = MergeFixtures.url("ldm_key_map_\(family).json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return try object.map { key, value in
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            let component = try #require(ModelComponent(rawValue: parts[0]))
            if let s = value as? String { return Entry(component: component, name: parts[1], ldmKey: s, rows: nil, transposed: false) }
            let d = try #require(value as? [String: Any])
            return Entry(component: component, name: parts[1], ldmKey: try #require(d["key"] as? String),
                         rows: d["rows"] as? [Int], transposed: (d["transpose"] as? Bool) ?? false)
        }
    }

    @Test("diffusers → original names match the proven map", arguments: ["sd1", "sd2", "sdxl"])
    func forward(family: String) throws {
        let entries = try Self.entries(family)
        let layout = CheckpointBuilder.layout(for: family)
        let upWithAttention = Set(entries.compactMap { e -> Int? in
            let p = e.name.split(separator: ".")
            return e.component == .unet && p.count > 2 && p[0] == "up_blocks" && p[2] == "attentions" ? Int(p[1]) : nil
        })
        var checked = 0, fused = 0
        for e in entries where !e.transposed {
            if e.component == .unet {
                let original = UNetCheckpointNames.originalName(diffusers: e.name, upBlocksWithAttention: upWithAttention)
                #expect(original.map { layout.unetPrefix + $0 } == e.ldmKey, "\(e.name)")
            } else {
                let encoder = try #require(layout.encoders.first { $0.component == e.component })
                let name = TextEncoderCheckpointNames.withTextModelLevel(e.name)
                if encoder.openCLIP {
                    let mapped = try #require(TextEncoderCheckpointNames.openCLIPName(transformers: name), "\(name)")
                    #expect(encoder.prefix + mapped.name == e.ldmKey, "\(name)")
                    #expect(!mapped.transposed, "\(name)")
                    if let rows = e.rows {
                        let third = try #require(mapped.fusedThird, "\(name): rows \(rows) of a fused tensor, but no third")
                        #expect(rows[0] == third * (rows[1] - rows[0]), "\(name) rows \(rows) vs third \(third)")
                        fused += 1
                    } else {
                        #expect(mapped.fusedThird == nil, "\(name)")
                    }
                } else {
                    #expect(encoder.prefix + name == e.ldmKey, "\(name)")
                }
            }
            checked += 1
        }
        #expect(checked > 100)
        #expect(fused == Self.fusedCount[family], "\(fused) fused thirds checked")
        try Self.checkTransposed(entries, family: family) { e in
            let name = TextEncoderCheckpointNames.withTextModelLevel(e.name)
            let encoder = try #require(layout.encoders.first { $0.component == e.component })
            guard let mapped = TextEncoderCheckpointNames.openCLIPName(transformers: name) else {
                Issue.record("no checkpoint name for \(name)")
                return
            }
            #expect(encoder.prefix + mapped.name == e.ldmKey, "\(name)")
            #expect(mapped.transposed && mapped.fusedThird == nil, "\(name)")
        }
    }

    /// Fused q/k/v thirds in each family's proven map: 2 OpenCLIP layers × q/k/v × weight/bias.
    static let fusedCount = ["sd1": 0, "sd2": 12, "sdxl": 12]
    /// Tensors stored transposed in the checkpoint (SDXL's `text_projection`).
    static let transposedCount = ["sd1": 0, "sd2": 0, "sdxl": 1]

    /// Runs `check` on each transposed entry of the proven map (SDXL's `text_projection`:
    /// `conditioner.embedders.1.model.text_projection` holds the transpose of transformers' Linear weight).
    static func checkTransposed(_ entries: [Entry], family: String, _ check: (Entry) throws -> Void) throws {
        let transposed = entries.filter(\.transposed)
        #expect(transposed.count == transposedCount[family], "\(transposed.map(\.name))")
        for e in transposed { try check(e) }
    }

    @Test("original → diffusers names match the proven map", arguments: ["sd1", "sd2", "sdxl"])
    func backward(family: String) throws {
        let tmp = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let checkpoint = tmp.appendingPathComponent("model.safetensors")
        try CheckpointBuilder.build(model: family, folder: MergeFixtures.url(family), to: checkpoint)
        let file = try SafetensorsFile(contentsOf: checkpoint)
        let index = ParameterIndex.checkpoint(file)
        let entries = try Self.entries(family)
        var checked = 0, fused = 0
        for e in entries where !e.transposed {
            let name = e.component == .unet ? e.name : TextEncoderCheckpointNames.withTextModelLevel(e.name)
            guard let location = index.location(of: ParameterKey(component: e.component, name: name)) else {
                Issue.record("no checkpoint location for \(e.component.rawValue)/\(name)")
                continue
            }
            #expect(location.tensorName == e.ldmKey, "\(e.component.rawValue)/\(name)")
            #expect(location.storage == .asIs, "\(e.component.rawValue)/\(name)")
            if let rows = e.rows {
                let third = try #require(location.fusedThird, "\(name): rows \(rows) of a fused tensor, but no third")
                #expect(rows[0] == third * (rows[1] - rows[0]), "\(name) rows \(rows) vs third \(third)")
                fused += 1
            } else {
                #expect(location.fusedThird == nil, "\(name)")
            }
            checked += 1
        }
        #expect(checked > 100)
        #expect(fused == Self.fusedCount[family], "\(fused) fused thirds checked")
        try Self.checkTransposed(entries, family: family) { e in
            let name = TextEncoderCheckpointNames.withTextModelLevel(e.name)
            guard let location = index.location(of: ParameterKey(component: e.component, name: name)) else {
                Issue.record("no checkpoint location for \(name)")
                return
            }
            #expect(location.tensorName == e.ldmKey, "\(name)")
            #expect(location.storage == .transposed && location.fusedThird == nil, "\(name)")
        }
    }
}
