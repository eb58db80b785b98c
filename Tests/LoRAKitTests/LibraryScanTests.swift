import Foundation
import Testing
@testable import LoRAKit

@Suite("LoRA library: scan, entries, skipped files")
struct LibraryScanTests {
    @Test("every LoRA family becomes an entry; every other file is skipped with its kind; hidden files are ignored")
    func mixedFolder() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let scan = try lib.library(cache: false).scan()
        #expect(Set(scan.entries.map(\.relativePath)) == LibraryFolder.expectedEntries)
        var kinds: [String: LoRALibrarySkippedFile.Kind] = [:]
        for s in scan.skipped { kinds[s.relativePath] = s.kind }
        #expect(kinds == LibraryFolder.expectedSkips)
        for s in scan.skipped { #expect(!s.reason.isEmpty, "\(s.relativePath) has no reason") }
        #expect(scan.statistics.filesFound == LibraryFolder.expectedEntries.count + LibraryFolder.expectedSkips.count)
        #expect(scan.statistics.read == scan.statistics.filesFound)
        #expect(!scan.entries.contains { $0.relativePath.contains("secret") })
        #expect(scan.entries.map(\.relativePath) == scan.entries.map(\.relativePath).sorted())
    }

    @Test("entries carry format, families, base model, components, ranks and alphas from the header")
    func entryFields() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let scan = try lib.library(cache: false).scan()
        func entry(_ path: String) throws -> LoRALibraryEntry {
            try #require(scan.entries.first { $0.relativePath == path }, "no entry \(path)")
        }
        let kohya = try entry("kohya_sd1.safetensors")
        #expect(kohya.name == "kohya_sd1")
        #expect(kohya.path == lib.url("kohya_sd1.safetensors").resolvingSymlinksInPath().path)
        #expect(kohya.format == .kohya)
        #expect(kohya.families == [.lora, .locon])
        #expect(kohya.familySummary == "LoRA+LoCon")
        #expect(kohya.moduleCount == 8)
        #expect(kohya.baseModel == .sd1)
        #expect(kohya.components == [.unet, .textEncoder])
        #expect(kohya.rank.rankText == "4")
        #expect(kohya.rank.alphaText == "α 8")
        #expect(kohya.fileSize == (try Data(contentsOf: lib.url("kohya_sd1.safetensors"))).count)
        #expect(kohya.hashes == nil)  // computed lazily

        #expect(try entry("families/lycoris/loha.safetensors").families.first == .loha)
        #expect(try entry("families/lycoris/lokr.safetensors").families.first == .lokr)
        #expect(try entry("families/lycoris/lycoris_formula.safetensors").format == .lycoris)
        #expect(try entry("dora_peft.safetensors").doraModuleCount > 0)
        #expect(try entry("dora_peft.safetensors").familySummary.hasSuffix("+DoRA"))
        #expect(try entry("kohya_sdxl_sgm.safetensors").baseModel == .sdxl)
        #expect(try entry("sd/sd2_kohya.safetensors").baseModel == .sd2)
        #expect(try entry("sd/sdxl_peft.safetensors").components.contains(.textEncoder2))
        #expect(try entry("legacy_attn_processor.safetensors").format == .legacyAttentionProcessor)
        #expect(scan.entries(for: .sdxl).allSatisfy { $0.baseModel == nil || $0.baseModel == .sdxl })
        #expect(scan.entries(for: .sdxl).contains { $0.relativePath == "lcm_sdxl.safetensors" })
        #expect(!scan.entries(for: .sdxl).contains { $0.relativePath == "kohya_sd1.safetensors" })
    }

    @Test("trigger words: sidecar first, then metadata trigger phrase and tags; sidecar weight; preview image")
    func triggersSidecarPreview() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let scan = try lib.library(cache: false).scan()
        let kohya = try #require(scan.entries.first { $0.name == "kohya_sd1" })
        #expect(Array(kohya.triggerWords.prefix(3)) == ["mychar", "red hair", "mychar style"])
        #expect(kohya.triggerWords.filter { $0 == "mychar" }.count == 1)  // deduplicated
        #expect(kohya.triggerWords.contains("1girl"))
        #expect(kohya.sidecar?.preferredWeight == 0.7)
        #expect(kohya.sidecar?.baseModelHint == "SD1")
        #expect(kohya.sidecar?.description == "my character")
        #expect(kohya.sidecar?.notes == nil)
        #expect(kohya.previewImage == lib.url("kohya_sd1.preview.png").resolvingSymlinksInPath().path)
        let px = try #require(scan.entries.first { $0.name == "px2_final" })
        #expect(px.aliases == ["PixelArt_v2", "Pixel Art"])
        #expect(px.triggerWords == ["pixel art", "8bit"])
        #expect(px.previewImage == nil && px.sidecar == nil)
    }

    @Test("sidecar spellings: arrays, InvokeAI trigger_phrases, Civitai trainedWords; junk is ignored")
    func sidecarParsing() {
        let a = LoRASidecar.parse(Data(#"{"trigger_phrases": ["a b", "c"], "trainedWords": ["c", "d, e"]}"#.utf8))
        #expect(a?.triggerWords == ["a b", "c", "d", "e"])
        let b = LoRASidecar.parse(Data(#"{"activation text": "x", "preferred weight": "0.5"}"#.utf8))
        #expect(b?.preferredWeight == 0.5)
        #expect(LoRASidecar.parse(Data("[1, 2]".utf8)) == nil)
        #expect(LoRASidecar.parse(Data("not json".utf8)) == nil)
        #expect(LoRASidecar.parse(Data(#"{"activation text": 5, "preferred weight": 0}"#.utf8)) == nil)
    }

    @Test("a missing folder is the only scan error")
    func missingFolder() throws {
        let root = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let missing = root.appendingPathComponent("nope")
        #expect(throws: LoRALibraryError.folderNotFound(path: missing.path)) {
            try LoRALibrary(folder: missing, cache: .disabled, environment: [:]).scan()
        }
        let empty = try LoRALibrary(folder: root, cache: .disabled, environment: [:]).scan()
        #expect(empty.entries.isEmpty && empty.skipped.isEmpty)
    }

    @Test("default folder and index locations follow LORAKIT_HOME, XDG_CACHE_HOME and HOME")
    func defaultLocations() {
        #expect(LoRALibrary.defaultFolder(environment: ["LORAKIT_HOME": "/opt/lk", "HOME": "/home/u"]).path == "/opt/lk/loras")
        #expect(LoRALibrary.defaultFolder(environment: ["HOME": "/home/u"]).path == "/home/u/.lorakit/loras")
        let lk = LoRALibrary(folder: URL(fileURLWithPath: "/x/loras"), environment: ["LORAKIT_HOME": "/opt/lk"])
        #expect(lk.indexURL?.path.hasPrefix("/opt/lk/cache/library-loras-") == true)
        let xdg = LoRALibrary(folder: URL(fileURLWithPath: "/x/loras"), environment: ["XDG_CACHE_HOME": "/c", "HOME": "/home/u"])
        #expect(xdg.indexURL?.path.hasPrefix("/c/lorakit/library-loras-") == true)
        let home = LoRALibrary(folder: URL(fileURLWithPath: "/x/loras"), environment: ["HOME": "/home/u"])
        #expect(home.indexURL?.path.hasPrefix("/home/u/.cache/lorakit/") == true)
        let other = LoRALibrary(folder: URL(fileURLWithPath: "/y/loras"), environment: ["HOME": "/home/u"])
        #expect(other.indexURL != home.indexURL)
        let beside = LoRALibrary(folder: URL(fileURLWithPath: "/x/loras"), cache: .besideFolder, environment: [:])
        #expect(beside.indexURL?.path == "/x/.loras.lorakit-index.json")
        #expect(LoRALibrary(folder: URL(fileURLWithPath: "/x"), cache: .disabled).indexURL == nil)
    }
}
