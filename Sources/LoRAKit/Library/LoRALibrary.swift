import Foundation

/// A folder of LoRA files used by name: copy `.safetensors` files in (any depth of subfolders),
/// then pick them by file name, alias or hash prefix.
///
/// A scan reads headers only and keeps an index (see ``LoRALibraryCacheLocation``) keyed by
/// path, size and modification time, so an unchanged folder re-scans from the index without
/// opening any LoRA. Files that are not LoRAs (checkpoints, VAEs, embeddings, pickles, broken
/// files) are listed in ``LoRALibraryScan/skipped`` with the reason; none stops the scan.
///
/// ```swift
/// let library = LoRALibrary()                         // $LORAKIT_HOME/loras or ~/.lorakit/loras
/// let scan = try library.scan()
/// for entry in scan.entries(for: .sdxl) { print(entry.name, entry.rank.rankText, entry.triggerWords) }
/// let style = try library.lookup("pixel-art")         // by name, alias or hash prefix
/// let lora = try LoRAFile(contentsOf: URL(fileURLWithPath: style.path))
/// ```
public struct LoRALibrary: Sendable {
    /// The library folder (absolute, symbolic links resolved).
    public let folder: URL
    /// Where the index is kept.
    public let cacheLocation: LoRALibraryCacheLocation
    let environment: [String: String]

    /// A library over `folder`.
    /// - Parameters:
    ///   - folder: the folder to scan; nil for ``defaultFolder(environment:)``.
    ///   - cache: where to keep the index.
    ///   - environment: the variables that choose default folders (`LORAKIT_HOME`, `XDG_CACHE_HOME`, `HOME`).
    public init(folder: URL? = nil, cache: LoRALibraryCacheLocation = .automatic,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        let chosen = folder ?? Self.defaultFolder(environment: environment)
        self.folder = chosen.standardizedFileURL.resolvingSymlinksInPath()
        self.cacheLocation = cache
        self.environment = environment
    }

    /// `$LORAKIT_HOME/loras` when `LORAKIT_HOME` is set, else `~/.lorakit/loras`.
    public static func defaultFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["LORAKIT_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home).appendingPathComponent("loras")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".lorakit/loras")
    }

    /// The index file, or nil when the cache is disabled.
    public var indexURL: URL? {
        LibraryIndex.url(for: folder.path, location: cacheLocation, environment: environment)
    }

    /// Lists the folder, reusing index records of unchanged files and reading the headers of the others.
    /// The index is rewritten (atomically) when anything changed.
    /// - Throws: ``LoRALibraryError/folderNotFound(path:)`` only; a broken file is a skipped entry.
    public func scan() throws(LoRALibraryError) -> LoRALibraryScan {
        let path = folder.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .folderNotFound(path: path)
        }
        let listing = LibraryListing(folder: path)
        let indexURL = self.indexURL
        let old = indexURL.flatMap { LibraryIndex.load(from: $0, folder: path) }
        var statistics = LoRALibraryScan.Statistics(filesFound: listing.files.count)

        var records = [LibraryIndex.Record?](repeating: nil, count: listing.files.count)
        var sidecars: [(path: String, stamp: FileStamp)?] = []
        var toRead: [Int] = []
        for (i, file) in listing.files.enumerated() {
            let sidecar = file.pathExtension == "safetensors" ? listing.sidecar(for: file) : nil
            sidecars.append(sidecar)
            if let record = old?.records[file.relativePath], record.stamp == file.stamp, record.sidecar == sidecar?.stamp,
               record.entry != nil || record.skipped != nil {
                records[i] = record
            } else {
                toRead.append(i)
            }
        }
        statistics.reused = listing.files.count - toRead.count
        statistics.read = toRead.count
        let outcomes = Self.read(toRead.map { (listing.files[$0], sidecars[$0]?.path) })
        for (k, i) in toRead.enumerated() {
            var record = LibraryIndex.Record(stamp: listing.files[i].stamp, sidecar: sidecars[i]?.stamp)
            switch outcomes[k] {
            case .entry(let e): record.entry = e
            case .skipped(let s): record.skipped = s
            }
            records[i] = record
        }

        var index = LibraryIndex(folder: path)
        var scan = LoRALibraryScan(folder: folder, entries: [], skipped: [], statistics: statistics)
        for (i, file) in listing.files.enumerated() {
            guard let record = records[i] else { continue }
            index.records[file.relativePath] = record
            if var entry = record.entry {
                entry.path = file.path
                entry.relativePath = file.relativePath
                entry.previewImage = listing.preview(for: file)
                scan.entries.append(entry)
            } else if var skipped = record.skipped {
                skipped.path = file.path
                skipped.relativePath = file.relativePath
                scan.skipped.append(skipped)
            }
        }
        scan.statistics.dropped = old.map { $0.records.keys.filter { index.records[$0] == nil }.count } ?? 0
        if let indexURL, index != old {
            scan.statistics.indexProblem = index.save(to: indexURL)
            scan.statistics.indexWritten = scan.statistics.indexProblem == nil
        }
        return scan
    }

    /// Reads files in parallel (headers only); the outcomes are in the order given.
    static func read(_ files: [(file: LibraryListing.File, sidecar: String?)]) -> [LibraryFileReader.Outcome] {
        guard !files.isEmpty else { return [] }
        let placeholder = LibraryFileReader.Outcome.skipped(LoRALibrarySkippedFile(
            name: "", relativePath: "", path: "", kind: .unreadable, reason: "not read", fileSize: 0))
        var outcomes = [LibraryFileReader.Outcome](repeating: placeholder, count: files.count)
        outcomes.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            nonisolated(unsafe) let out = base
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                out[i] = LibraryFileReader.read(files[i].file, sidecarPath: files[i].sidecar)
            }
        }
        return outcomes
    }

    /// The hashes of `entry`'s file: the recorded ones, or computed now (reading the whole file)
    /// and recorded in the index.
    /// - Throws: ``LoRALibraryError/unreadable(path:reason:)`` when the file is gone or changed,
    ///   ``LoRALibraryError/invalidFile(path:underlying:)`` when it is no longer a valid safetensors file.
    public func hashes(for entry: LoRALibraryEntry) throws(LoRALibraryError) -> LoRAFileHashes {
        if let h = entry.hashes { return h }
        let (computed, failures) = computeHashes(for: [entry])
        if let h = computed[entry.relativePath] { return h }
        throw failures.first ?? .unreadable(path: entry.path, reason: "hashing failed")
    }

    /// `scan` with the hashes of every entry filled in, computing the missing ones (reading those
    /// files whole) and recording them in the index. Entries whose file cannot be hashed keep nil.
    public func addingHashes(to scan: LoRALibraryScan) -> LoRALibraryScan {
        let missing = scan.entries.filter { $0.hashes == nil }
        guard !missing.isEmpty else { return scan }
        let (computed, _) = computeHashes(for: missing)
        var out = scan
        for i in out.entries.indices where out.entries[i].hashes == nil {
            out.entries[i].hashes = computed[out.entries[i].relativePath]
        }
        return out
    }

    /// Hashes `entries` and records the results in the index for files unchanged since their scan.
    private func computeHashes(for entries: [LoRALibraryEntry]) -> (hashes: [String: LoRAFileHashes], failures: [LoRALibraryError]) {
        var out: [String: LoRAFileHashes] = [:]
        var stamps: [String: FileStamp] = [:]
        var failures: [LoRALibraryError] = []
        for entry in entries {
            func fail(_ reason: String) { failures.append(.unreadable(path: entry.path, reason: reason)) }
            guard let before = FileStamp.of(entry.path) else { fail("the file is gone"); continue }
            guard before.size == entry.fileSize else { fail("the file changed since the scan; scan again"); continue }
            do {
                let h = try SafetensorsFile(path: entry.path).computeContentHashes()
                guard FileStamp.of(entry.path) == before else { fail("the file changed while hashing"); continue }
                out[entry.relativePath] = h
                stamps[entry.relativePath] = before
            } catch {
                failures.append(.invalidFile(path: entry.path, underlying: error))
            }
        }
        if let url = indexURL, !out.isEmpty, var index = LibraryIndex.load(from: url, folder: folder.path) {
            var changed = false
            for (relativePath, h) in out where index.records[relativePath]?.stamp == stamps[relativePath]
                && index.records[relativePath]?.entry != nil {
                index.records[relativePath]?.entry?.hashes = h
                changed = true
            }
            if changed { _ = index.save(to: url) }
        }
        return (out, failures)
    }

    /// Scans and finds the LoRA answering to `query` (see ``LoRALibraryScan/entry(named:)``).
    /// When nothing matches and the query looks like a hash prefix, the missing hashes are
    /// computed (and recorded) and the lookup is tried again.
    public func lookup(_ query: String) throws(LoRALibraryError) -> LoRALibraryEntry {
        let scan = try self.scan()
        do {
            return try scan.entry(named: query)
        } catch .notFound where LoRALibraryScan.isHashPrefix(query) && scan.entries.contains(where: { $0.hashes == nil }) {
            return try addingHashes(to: scan).entry(named: query)
        }
    }

    /// Like ``lookup(_:)``, refusing a LoRA made for another model family than `base`.
    /// - Parameters:
    ///   - base: the model family the LoRA will be used with.
    ///   - modelName: the model's name, for the error message.
    /// - Throws: ``LoRALibraryError/baseModelMismatch(lora:loraBase:model:modelBase:)`` naming both.
    public func lookup(_ query: String, forModel base: BaseModel, modelName: String) throws(LoRALibraryError) -> LoRALibraryEntry {
        let entry = try lookup(query)
        if let own = entry.baseModel, own != base {
            throw .baseModelMismatch(lora: entry.name, loraBase: own, model: modelName, modelBase: base)
        }
        return entry
    }
}
