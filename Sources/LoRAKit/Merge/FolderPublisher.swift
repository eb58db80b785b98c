import CLoRAKitKernels
import Foundation

/// Builds an output folder beside its destination and moves it into place only when complete.
enum FolderPublisher {
    /// Copies `source` into a staging folder (skipping `rewritten`, the relative paths `fill` writes), lets `fill`
    /// write into it, then renames it to `destination`.
    static func publish(from source: URL, to destination: URL, overwrite: Bool, rewritten: Set<String>,
                        fill: (URL) throws(MergeError) -> Void) throws(MergeError) {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(UUID().uuidString.prefix(8))")
        // Only the output folder itself is made (by renaming the staging folder); its parent must exist.
        guard OutputPath.isFolder(parent) else {
            throw .invalidOutput(path: destination.path, reason: OutputPath.missingFolderReason(parent))
        }
        guard let pending = PendingOutputs.register(staging.path) else { throw stopping(destination) }
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            PendingOutputs.unregister(pending)
            throw .fileSystem(path: staging.path, reason: "cannot create staging folder: \(error.localizedDescription)")
        }
        // Where a replaced output waits while the new one moves in; registered so that a stop
        // after the swap removes it too.
        let old = parent.appendingPathComponent(".\(destination.lastPathComponent).old-\(UUID().uuidString.prefix(8))")
        let oldPending = PendingOutputs.register(old.path)
        defer {
            PendingOutputs.unregister(pending)
            PendingOutputs.unregister(oldPending)
        }
        do {
            try copyTree(from: source, to: staging, relative: "", skipping: rewritten)
            try fill(staging)
            let replacing = fm.fileExists(atPath: destination.path)
            if replacing, !overwrite { throw MergeError.safetensors(.outputExists(path: destination.path)) }
            let published = try PendingOutputs.publish(pending) { () throws(MergeError) in
                if replacing { try moveItem(destination, old) }
                do throws(MergeError) { try moveItem(staging, destination) } catch {
                    if replacing { rename(old.path, destination.path) }
                    throw error
                }
            }
            guard published else { throw stopping(destination) }
            if replacing { try? fm.removeItem(at: old) }
        } catch let error as MergeError {
            try? fm.removeItem(at: staging)
            throw error
        } catch {
            try? fm.removeItem(at: staging)
            throw .fileSystem(path: destination.path, reason: error.localizedDescription)
        }
    }

    private static func stopping(_ destination: URL) -> MergeError {
        .safetensors(.io(path: destination.path, operation: "write (the process is stopping)", errno: ECANCELED))
    }

    private static func moveItem(_ from: URL, _ to: URL) throws(MergeError) {
        guard rename(from.path, to.path) == 0 else {
            throw .fileSystem(path: to.path, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Copies one file, inside the kernel where possible (`copy_file_range`), else through Foundation.
    private static func copyFile(_ from: String, _ to: String) throws {
        let input = open(from, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw MergeError.fileSystem(path: from, reason: String(cString: strerror(errno))) }
        defer { close(input) }
        var st = stat()
        guard fstat(input, &st) == 0 else { throw MergeError.fileSystem(path: from, reason: String(cString: strerror(errno))) }
        let output = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0o777)
        guard output >= 0 else { throw MergeError.fileSystem(path: to, reason: String(cString: strerror(errno))) }
        var remaining = Int(st.st_size)
        var inOffset: Int64 = 0
        var outOffset: Int64 = 0
        while remaining > 0 {
            let n = Int(lorakit_copy_file_range_at(input, &inOffset, output, &outOffset, remaining))
            if n > 0 { remaining -= n; continue }
            if n < 0 && errno == EINTR { continue }
            // No in-kernel copy here (or a short source): let Foundation copy the whole file.
            close(output)
            unlink(to)
            try FileManager.default.copyItem(atPath: from, toPath: to)
            return
        }
        guard close(output) == 0 else { throw MergeError.fileSystem(path: to, reason: String(cString: strerror(errno))) }
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
            _ = fm.fileExists(atPath: source.appendingPathComponent(rel).path, isDirectory: &isDir)
            do {
                if isDir.boolValue {
                    try fm.createDirectory(at: destination.appendingPathComponent(rel), withIntermediateDirectories: true)
                    try copyTree(from: source, to: destination, relative: rel, skipping: skipping)
                } else {
                    try copyFile(source.appendingPathComponent(rel).path, destination.appendingPathComponent(rel).path)
                }
            } catch let e as MergeError {
                throw e
            } catch {
                throw .fileSystem(path: rel, reason: "copy failed: \(error.localizedDescription)")
            }
        }
    }
}
