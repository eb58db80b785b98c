import ArgumentParser
import Foundation
import LoRAKit

/// A model family as given to `--base`.
enum ListBaseChoice: String, ExpressibleByArgument, CaseIterable {
    case sd1, sd2, sdxl
    var base: BaseModel {
        switch self {
        case .sd1: .sd1
        case .sd2: .sd2
        case .sdxl: .sdxl
        }
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the LoRAs of a library folder (recursive; headers only; indexed).",
        discussion: """
        DIR defaults to $LORAKIT_HOME/loras, else ~/.lorakit/loras. Copy .safetensors LoRA files there, \
        then use them by name anywhere a LoRA is accepted (--lora NAME[:WEIGHT]). Files that are not LoRAs \
        are counted as skipped; --skipped says why. The index lives in $LORAKIT_HOME/cache \
        (else $XDG_CACHE_HOME/lorakit or ~/.cache/lorakit).
        """)

    @Argument(help: "The LoRA folder (default: $LORAKIT_HOME/loras, else ~/.lorakit/loras).")
    var dir: String?

    @Option(help: "Only LoRAs usable with this model family (sd1, sd2, sdxl); LoRAs of unknown family are kept.")
    var base: ListBaseChoice?

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    @Flag(help: "Also list the files that are not LoRAs, with the reason.")
    var skipped = false

    @Flag(help: "Compute (once; then cached) and show SHA-256 (AutoV2) and sshs_model_hash. Reads every file whole.")
    var hashes = false

    @Flag(name: .customLong("no-cache"), help: "Read every header; neither read nor write the index.")
    var noCache = false

    func run() throws {
        var isDirectory: ObjCBool = false
        if let dir, FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), !isDirectory.boolValue {
            printError("\(dir) is a file; list wants a folder of LoRAs (lora-tool inspect shows one file)")
            throw badInputExitCode
        }
        let library = LoRALibrary(folder: dir.map { URL(fileURLWithPath: $0) }, cache: noCache ? .disabled : .automatic)
        var scan: LoRALibraryScan
        do { scan = try library.scan() } catch {
            printError("\(error)", error)
            throw badInputExitCode
        }
        let all = scan.entries
        if let base { scan.entries = scan.entries(for: base.base) }
        if hashes { scan = library.addingHashes(to: scan) }
        let entries = scan.entries
        if json {
            try printJSON(try Self.jsonReport(scan: scan, entries: entries))
        } else {
            try emit(Self.table(entries, allEntries: all, hashes: hashes))
            if skipped, !scan.skipped.isEmpty {
                try emit("\nSkipped:\n")
                try emit(Self.columns([["FILE", "KIND", "REASON"]] + scan.skipped.map { [$0.relativePath, $0.kind.rawValue, $0.reason] }))
            }
            var footer = "\(entries.count) LoRA\(entries.count == 1 ? "" : "s")"
            if let base { footer += " for \(base.base.displayName) (of \(all.count))" }
            footer += " in \(scan.folder.path)"
            if !scan.skipped.isEmpty { footer += "; \(scan.skipped.count) file\(scan.skipped.count == 1 ? "" : "s") skipped" + (skipped ? "" : " (--skipped says why)") }
            try emit(footer + "\n")
            if let problem = scan.statistics.indexProblem { printNote("index not saved: \(problem)") }
        }
    }

    /// The name to type for `entry`: its stem, or its path without extension when the stem is not unique.
    static func displayName(_ entry: LoRALibraryEntry, among all: [LoRALibraryEntry]) -> String {
        guard all.filter({ $0.name.lowercased() == entry.name.lowercased() }).count > 1 else { return entry.name }
        return entry.relativePath.hasSuffix(".safetensors") ? String(entry.relativePath.dropLast(".safetensors".count)) : entry.relativePath
    }

    static func table(_ entries: [LoRALibraryEntry], allEntries: [LoRALibraryEntry], hashes: Bool) -> String {
        guard !entries.isEmpty else { return "" }
        var rows = [["NAME", "BASE", "FAMILY", "RANK", "SIZE", "TRIGGERS"] + (hashes ? ["AUTOV2", "SSHS"] : [])]
        for e in entries {
            var triggers = e.triggerWords.prefix(3).joined(separator: ", ")
            if triggers.count > 40 { triggers = String(triggers.prefix(39)) + "…" }
            var row = [displayName(e, among: allEntries), e.baseModel.map(shortBase) ?? "?", e.familySummary, e.rank.rankText,
                       byteText(e.fileSize), triggers]
            if hashes { row += [e.hashes?.autoV2 ?? "-", e.hashes.map { String($0.sshsModelHash.prefix(12)) } ?? "-"] }
            rows.append(row)
        }
        return columns(rows)
    }

    static func shortBase(_ b: BaseModel) -> String {
        switch b {
        case .sd1: "SD1"
        case .sd2: "SD2"
        case .sdxl: "SDXL"
        }
    }

    /// Left-aligned columns separated by two spaces, the last one unpadded.
    static func columns(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    static func byteText(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(n) B" : String(format: v < 10 ? "%.1f %@" : "%.0f %@", v, units[u])
    }

    struct Report: Encodable {
        var folder: String
        var entries: [LoRALibraryEntry]
        var skipped: [LoRALibrarySkippedFile]
        var filesFound: Int
        var headersRead: Int
        var reusedFromIndex: Int
        var indexProblem: String?
    }

    static func jsonReport(scan: LoRALibraryScan, entries: [LoRALibraryEntry]) throws -> Any {
        let s = scan.statistics
        let report = Report(folder: scan.folder.path, entries: entries, skipped: scan.skipped, filesFound: s.filesFound,
                            headersRead: s.read, reusedFromIndex: s.reused, indexProblem: s.indexProblem)
        return try jsonObject(report) { $0.dateEncodingStrategy = .iso8601 }
    }
}
