import Foundation
import Testing
@testable import LoRAKit

@Suite("LoRA library: index cache")
struct LibraryCacheTests {
    @Test("a warm re-scan reads no header and gives the same entries and skips")
    func warm() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let library = lib.library()
        let cold = try library.scan()
        #expect(cold.statistics.read == cold.statistics.filesFound && cold.statistics.reused == 0)
        #expect(cold.statistics.indexWritten && cold.statistics.indexProblem == nil)
        #expect(FileManager.default.fileExists(atPath: lib.indexURL.path))
        let warm = try library.scan()
        #expect(warm.statistics.read == 0)
        #expect(warm.statistics.reused == cold.statistics.filesFound)
        #expect(!warm.statistics.indexWritten)  // nothing changed: not rewritten
        #expect(warm.entries == cold.entries)
        #expect(warm.skipped == cold.skipped)
    }

    @Test("changed files are re-read, deleted ones dropped, new ones added, sidecar edits picked up")
    func changes() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let library = lib.library()
        let cold = try library.scan()
        // Changed: a LoRA replaced by another one under the same name.
        let target = lib.url("sd/sd1_second.safetensors")
        try FileManager.default.removeItem(at: target)
        try FileManager.default.copyItem(at: Fixtures.url("sdxl_peft.safetensors", subdirectory: "merge/lora"), to: target)
        // Deleted.
        try FileManager.default.removeItem(at: lib.url("families/lycoris/lokr.safetensors"))
        // New, in a new subfolder.
        try FileManager.default.createDirectory(at: lib.url("new"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("lokr.safetensors", subdirectory: "lora"), to: lib.url("new/lokr2.safetensors"))
        // Sidecar edited (its size changes).
        try Data(#"{"activation text": "someone else"}"#.utf8).write(to: lib.url("kohya_sd1.json"))
        // Same size, new modification time: re-read too.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)],
                                              ofItemAtPath: lib.url("peft_sd1.safetensors").path)

        let next = try library.scan()
        #expect(next.statistics.read == 4)
        #expect(next.statistics.dropped == 1)
        #expect(next.statistics.reused == cold.statistics.filesFound - 1 - 3)
        #expect(next.statistics.indexWritten)
        #expect(try next.entry(named: "sd1_second").baseModel == .sdxl)
        #expect(!next.entries.contains { $0.name == "lokr" })
        #expect(try next.entry(named: "lokr2").families.first == .lokr)
        #expect(try next.entry(named: "kohya_sd1").triggerWords.first == "someone else")
        // And the rewritten index holds the new state.
        let again = try library.scan()
        #expect(again.statistics.read == 0)
        #expect(again.entries == next.entries)
    }

    @Test("a corrupt, foreign or other-version index is ignored and replaced")
    func corruptIndex() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let library = lib.library()
        try FileManager.default.createDirectory(at: lib.indexURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        for junk in ["{\"version\": 1, \"folder\": ", "null", #"{"version": 99, "folder": "/x", "records": {}}"#] {
            try Data(junk.utf8).write(to: lib.indexURL)
            let scan = try library.scan()
            #expect(scan.statistics.reused == 0)
            #expect(scan.statistics.indexWritten)
            #expect(Set(scan.entries.map(\.relativePath)) == LibraryFolder.expectedEntries)
        }
        // The same index file used for another folder starts cold there.
        let other = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: other) }
        try FileManager.default.copyItem(at: lib.url("kohya_sd1.safetensors"), to: other.appendingPathComponent("kohya_sd1.safetensors"))
        let otherScan = try LoRALibrary(folder: other, cache: .file(lib.indexURL), environment: [:]).scan()
        #expect(otherScan.statistics.reused == 0 && otherScan.entries.count == 1)
    }

    @Test("concurrent scans of a changing folder never leave a corrupt index or temporary files")
    func concurrentScans() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let folder = lib.folder, index = lib.indexURL
        let source = Fixtures.url("kohya_sd1.safetensors", subdirectory: "lora")
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            // Each scanner has its own library value, as two processes would.
            let library = LoRALibrary(folder: folder, cache: .file(index), environment: [:])
            try? FileManager.default.copyItem(at: source, to: folder.appendingPathComponent("race_\(i).safetensors"))
            for _ in 0..<3 { _ = try? library.scan() }
        }
        let data = try Data(contentsOf: index)
        let decoded = try JSONDecoder().decode(LibraryIndex.self, from: data)
        #expect(decoded.version == LibraryIndex.currentVersion)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: index.deletingLastPathComponent().path)
        #expect(leftovers == [index.lastPathComponent])
        let final = try LoRALibrary(folder: folder, cache: .file(index), environment: [:]).scan()
        #expect((0..<8).allSatisfy { i in final.entries.contains { $0.name == "race_\(i)" } })
    }

    @Test("an index that cannot be written leaves the scan complete and says why")
    func unwritableIndex() throws {
        let lib = try LibraryFolder()
        defer { lib.remove() }
        let blocker = lib.root.appendingPathComponent("blocker")
        try Data("file".utf8).write(to: blocker)
        let library = LoRALibrary(folder: lib.folder, cache: .file(blocker.appendingPathComponent("index.json")), environment: [:])
        let scan = try library.scan()
        #expect(Set(scan.entries.map(\.relativePath)) == LibraryFolder.expectedEntries)
        #expect(!scan.statistics.indexWritten)
        #expect(scan.statistics.indexProblem != nil)
    }
}
