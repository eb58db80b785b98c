import Foundation

/// Where a ``LoRALibrary`` keeps its index (one JSON file per library folder).
public enum LoRALibraryCacheLocation: Sendable, Hashable {
    /// Under the user cache folder: `$LORAKIT_HOME/cache/` when `LORAKIT_HOME` is set, else
    /// `$XDG_CACHE_HOME/lorakit/`, else `~/.cache/lorakit/`; the file is named after a hash of the folder path.
    case automatic
    /// Next to the library folder: `<parent>/.<folder name>.lorakit-index.json`.
    case besideFolder
    /// This exact file.
    case file(URL)
    /// No index: every scan reads every header.
    case disabled
}

/// The on-disk index: one record per file, keyed by its path relative to the folder and
/// valid while the file's size and modification time (and its sidecar's) are unchanged.
struct LibraryIndex: Sendable, Codable, Equatable {
    static let currentVersion = 1

    struct Record: Sendable, Codable, Equatable {
        var stamp: FileStamp
        /// The `<stem>.json` sidecar's stamp when the record was made (nil: there was none).
        var sidecar: FileStamp?
        var entry: LoRALibraryEntry?
        var skipped: LoRALibrarySkippedFile?
    }

    var version = LibraryIndex.currentVersion
    /// The absolute library folder the records belong to.
    var folder: String
    var records: [String: Record] = [:]

    init(folder: String) {
        self.folder = folder
    }

    /// The index stored at `url` for `folder`, or nil when there is none or it cannot be used
    /// (unreadable, corrupt, another version, another folder): the scan then starts cold.
    static func load(from url: URL, folder: String) -> LibraryIndex? {
        guard let data = try? Data(contentsOf: url),
              let index = try? JSONDecoder().decode(LibraryIndex.self, from: data),
              index.version == currentVersion, index.folder == folder else { return nil }
        return index
    }

    /// Writes the index to `url` under a temporary name in the same folder, flushes it and
    /// renames it into place, so a concurrent reader sees the old or the new file, never half of one.
    /// - Returns: nil on success, else why the index could not be written (the scan result is unaffected).
    func save(to url: URL) -> String? {
        let data: Data
        do { data = try JSONEncoder().encode(self) } catch { return "cannot encode the index: \(error)" }
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            return "cannot create \(url.deletingLastPathComponent().path): \(error.localizedDescription)"
        }
        do {
            let file = try AtomicFile(destination: url.path)
            try file.write(Array(data))
            try file.commit()
        } catch {
            return "cannot write the index \(url.path): \(error)"
        }
        return nil
    }

    /// The index file for `folder` at `location`, or nil when disabled.
    static func url(for folder: String, location: LoRALibraryCacheLocation, environment: [String: String]) -> URL? {
        switch location {
        case .disabled:
            return nil
        case .file(let url):
            return url
        case .besideFolder:
            let f = URL(fileURLWithPath: folder)
            return f.deletingLastPathComponent().appendingPathComponent(".\(f.lastPathComponent).lorakit-index.json")
        case .automatic:
            let digest = SHA256Digest.hash(Array(folder.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
            let name = "library-\(URL(fileURLWithPath: folder).lastPathComponent)-\(digest).json"
            return cacheFolder(environment: environment).appendingPathComponent(name)
        }
    }

    /// `$LORAKIT_HOME/cache`, else `$XDG_CACHE_HOME/lorakit`, else `~/.cache/lorakit`.
    static func cacheFolder(environment: [String: String]) -> URL {
        if let home = environment["LORAKIT_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home).appendingPathComponent("cache")
        }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("lorakit")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/lorakit")
    }
}
