import Foundation
import Testing
@testable import LoRAKit

@Suite("LoRA library: lookup by name, alias, hash prefix")
struct LibraryLookupTests {
    @Test("by stem, relative path, case-insensitive name, alias")
    func byName() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let scan = try lib.library(cache: false).scan()
        #expect(try scan.entry(named: "kohya_sd1").relativePath == "kohya_sd1.safetensors")
        #expect(try scan.entry(named: "kohya_sd1.safetensors").relativePath == "kohya_sd1.safetensors")
        #expect(try scan.entry(named: "KOHYA_SD1").relativePath == "kohya_sd1.safetensors")
        #expect(try scan.entry(named: "loha").relativePath == "families/lycoris/loha.safetensors")
        #expect(try scan.entry(named: "pixelart_v2").name == "px2_final")
        #expect(try scan.entry(named: "Pixel Art").name == "px2_final")
        #expect(try scan.entry(named: "dup/one/style").baseModel == .sd1)
        #expect(try scan.entry(named: "dup/two/deeper/style.safetensors").baseModel == .sdxl)
    }

    @Test("duplicate stems are ambiguous, listing both candidates")
    func ambiguous() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let scan = try lib.library(cache: false).scan()
        #expect(throws: LoRALibraryError.ambiguous(query: "style", candidates: ["dup/one/style.safetensors", "dup/two/deeper/style.safetensors"])) {
            try scan.entry(named: "style")
        }
        let message = "\(LoRALibraryError.ambiguous(query: "style", candidates: ["dup/one/style.safetensors", "dup/two/deeper/style.safetensors"]))"
        #expect(message.contains("dup/one/style.safetensors") && message.contains("dup/two/deeper/style.safetensors"))
    }

    @Test("unknown names suggest near names; skipped files say why")
    func notFound() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let scan = try lib.library(cache: false).scan()
        do {
            _ = try scan.entry(named: "sd1")
            Issue.record("expected notFound")
        } catch {
            guard case .notFound(_, _, let suggestions) = error else { Issue.record("got \(error)"); return }
            #expect(suggestions.contains("sd1_kohya"))
        }
        do {
            _ = try scan.entry(named: "embedding")
            Issue.record("expected notALoRA")
        } catch {
            guard case .notALoRA(_, let path, let reason) = error else { Issue.record("got \(error)"); return }
            #expect(path == "other/embedding.safetensors")
            #expect(reason.contains("textual-inversion"))
        }
        #expect(throws: LoRALibraryError.self) { try scan.entry(named: "") }
    }

    @Test("hash prefixes (SHA-256 / AutoV2 and sshs_model_hash) resolve after hashing; hashes are cached")
    func byHash() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let library = lib.library()
        // kohya_sd1's known hashes (see the inspect tests).
        #expect(try library.lookup("ef2f3523dc").name == "kohya_sd1")
        #expect(try library.lookup("8E697BCD6B8C").name == "kohya_sd1")
        let warm = try library.scan()
        let kohya = try #require(warm.entries.first { $0.name == "kohya_sd1" })
        #expect(kohya.hashes?.sha256 == "ef2f3523dc245497bfd8304d48ca1da94e6f900090c6f54170991c89d6ca7e2e")
        #expect(kohya.hashes?.autoV2 == "ef2f3523dc")
        #expect(kohya.hashes?.sshsModelHash == "8e697bcd6b8cf5cb3f53ecf3d53ee6b8fcc9625ed9030acec2bc15608b63a9c2")
        #expect(warm.statistics.read == 0)
        #expect(try warm.entry(named: "ef2f3523").name == "kohya_sd1")
        #expect(try library.hashes(for: kohya) == kohya.hashes)
        // Identical files share hashes: a prefix of a copied file is ambiguous.
        let sd1 = try #require(warm.entries.first { $0.relativePath == "sd/sd1_kohya.safetensors" })
        let prefix = String(try library.hashes(for: sd1).sha256.prefix(12))
        #expect(throws: LoRALibraryError.ambiguous(query: prefix, candidates: ["dup/one/style.safetensors", "sd/sd1_kohya.safetensors"])) {
            try library.lookup(prefix)
        }
    }

    @Test("a LoRA for another model family is refused, naming both")
    func baseMismatch() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let library = lib.library(cache: false)
        #expect(try library.lookup("kohya_sd1", forModel: .sd1, modelName: "v1-5").name == "kohya_sd1")
        #expect(try library.lookup("loha", forModel: .sdxl, modelName: "sdxl-base").name == "loha")  // base unknown: allowed
        let error = LoRALibraryError.baseModelMismatch(lora: "kohya_sd1", loraBase: .sd1, model: "sdxl-base", modelBase: .sdxl)
        #expect(throws: error) { try library.lookup("kohya_sd1", forModel: .sdxl, modelName: "sdxl-base") }
        #expect(error.description.contains("kohya_sd1") && error.description.contains("sdxl-base")
                && error.description.contains("SD 1.x") && error.description.contains("SDXL"))
    }
}
