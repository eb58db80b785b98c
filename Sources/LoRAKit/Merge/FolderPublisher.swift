import Foundation

/// Builds an output folder beside its destination and moves it into place only when complete.
enum FolderPublisher {
    /// Copies `source` into a staging folder (skipping the files `fill` rewrites), lets `fill`
    /// write into it, then renames it to `destination`.
    static func publish(from source: URL, to destination: URL, overwrite: Bool,
                        fill: (URL) throws(MergeError) -> Void) throws(MergeError) {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(UUID().uuidString.prefix(8))")
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw .fileSystem(path: staging.path, reason: "cannot create staging folder: \(error.localizedDescription)")
        }
        do {
            let rewritten = Set(MergeTarget.folderComponentFiles.flatMap(\.paths))
            try copyTree(from: source, to: staging, relative: "", skipping: rewritten)
            try fill(staging)
            if fm.fileExists(atPath: destination.path) {
                guard overwrite else { throw MergeError.invalidOutput(path: destination.path, reason: "exists (use --force to overwrite)") }
                let old = parent.appendingPathComponent(".\(destination.lastPathComponent).old-\(UUID().uuidString.prefix(8))")
                try moveItem(destination, old)
                try moveItem(staging, destination)
                try? fm.removeItem(at: old)
            } else {
                try moveItem(staging, destination)
            }
        } catch let error as MergeError {
            try? fm.removeItem(at: staging)
            throw error
        } catch {
            try? fm.removeItem(at: staging)
            throw .fileSystem(path: destination.path, reason: error.localizedDescription)
        }
    }

    private static func moveItem(_ from: URL, _ to: URL) throws(MergeError) {
        guard rename(from.path, to.path) == 0 else {
            throw .fileSystem(path: to.path, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
    }

    private static func copyTree(from source: URL, to destination: URL, relative: String, skipping: Set<String>) throws(MergeError) {
        let fm = FileManager.default
        let dir = relative.isEmpty ? source : source.appendingPathComponent(relative)
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: dir.path) } catch {
            throw .fileSystem(path: dir.path, reason: error.localizedDescription)
        }
        for name in entries.sorted() {
            let rel = relative.isEmpty ? name : relative + "/" + name
            if skipping.contains(rel) { continue }
            var isDir: ObjCBool = false
            fm.fileExists(atPath: source.appendingPathComponent(rel).path, isDirectory: &isDir)
            do {
                if isDir.boolValue {
                    try fm.createDirectory(at: destination.appendingPathComponent(rel), withIntermediateDirectories: true)
                    try copyTree(from: source, to: destination, relative: rel, skipping: skipping)
                } else {
                    try fm.copyItem(at: source.appendingPathComponent(rel), to: destination.appendingPathComponent(rel))
                }
            } catch let e as MergeError {
                throw e
            } catch {
                throw .fileSystem(path: rel, reason: "copy failed: \(error.localizedDescription)")
            }
        }
    }
}
