#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Size and modification time of a file: what decides whether a cached record is still valid.
struct FileStamp: Sendable, Hashable, Codable {
    var size: Int
    /// Modification time in nanoseconds since 1970.
    var mtime: Int64

    /// The stamp of the file at `path` (following symlinks), or nil when it does not exist.
    static func of(_ path: String) -> FileStamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileStamp(st)
    }

    init(size: Int, mtime: Int64) {
        self.size = size
        self.mtime = mtime
    }

    init(_ st: stat) {
        size = Int(st.st_size)
        #if canImport(Darwin)
        mtime = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
        mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
    }

    var date: Date { Date(timeIntervalSince1970: Double(mtime) / 1e9) }
}

/// The candidate files of a library folder, found by a recursive walk that reads no file.
struct LibraryListing: Sendable {
    struct File: Sendable {
        /// `/`-separated path relative to the folder.
        var relativePath: String
        var path: String
        /// The folder holding the file (absolute).
        var directory: String
        /// The file name without its extension.
        var stem: String
        /// The extension, lowercased.
        var pathExtension: String
        var stamp: FileStamp

        var size: Int { stamp.size }
        var modified: Date { stamp.date }
    }

    /// `.safetensors` files and pickles, sorted by relative path.
    var files: [File] = []
    /// The names in each walked folder, for sidecars and previews.
    var namesByDirectory: [String: Set<String>] = [:]

    /// Folders deeper than this are not walked.
    static let maximumDepth = 32
    static let extensions: Set<String> = LibraryFileReader.pickleExtensions.union(["safetensors"])
    /// Preview image suffixes, in order of preference.
    static let previewSuffixes = [".png", ".preview.png", ".jpg", ".jpeg", ".preview.jpg", ".webp", ".preview.webp"]

    /// Walks `folder`, skipping hidden names (including the index's temporary files) and
    /// following symbolic links to files and folders without looping.
    init(folder: String) {
        var visited = Set<[UInt64]>()
        walk(directory: folder, relative: "", depth: 0, visited: &visited)
        files.sort { $0.relativePath < $1.relativePath }
    }

    private mutating func walk(directory: String, relative: String, depth: Int, visited: inout Set<[UInt64]>) {
        var st = stat()
        guard depth <= Self.maximumDepth, stat(directory, &st) == 0,
              visited.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted,
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        namesByDirectory[directory] = Set(names)
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR {
                walk(directory: path, relative: relative + name + "/", depth: depth + 1, visited: &visited)
                continue
            }
            guard type == S_IFREG, let dot = name.lastIndex(of: "."), dot != name.startIndex else { continue }
            let ext = name[name.index(after: dot)...].lowercased()
            guard Self.extensions.contains(ext) else { continue }
            files.append(File(relativePath: relative + name, path: path, directory: directory,
                              stem: String(name[..<dot]), pathExtension: ext, stamp: FileStamp(info)))
        }
    }

    /// The `<stem>.json` sidecar next to `file`, with its stamp.
    func sidecar(for file: File) -> (path: String, stamp: FileStamp)? {
        let name = file.stem + ".json"
        guard namesByDirectory[file.directory]?.contains(name) == true else { return nil }
        let path = file.directory + "/" + name
        return FileStamp.of(path).map { (path, $0) }
    }

    /// The preview image next to `file`, when there is one.
    func preview(for file: File) -> String? {
        guard let names = namesByDirectory[file.directory] else { return nil }
        return Self.previewSuffixes.lazy.map { file.stem + $0 }.first { names.contains($0) }.map { file.directory + "/" + $0 }
    }
}
