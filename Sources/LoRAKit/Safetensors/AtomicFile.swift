#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLoRAKitKernels

/// A file written under a temporary name in its destination folder and renamed
/// into place only when complete and flushed to disk.
///
/// The positioned operations (`write(_:at:)`, `copy(from:offset:count:at:)`) may run on
/// several threads at once: they share only the descriptor.
final class AtomicFile: @unchecked Sendable {
    let destination: String
    let temporaryPath: String
    private var fd: Int32
    private var finished = false
    /// The temporary path's entry in ``PendingOutputs``.
    private var pending: Int?

    init(destination: String) throws(SafetensorsError) {
        self.destination = destination
        let slash = destination.lastIndex(of: "/")
        let folder = slash.map { String(destination[..<$0]) } ?? "."
        let base = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        var template = Array("\(folder.isEmpty ? "/" : folder)/.\(base).tmp-XXXXXX".utf8CString)
        var fd: Int32 = -1
        var createError: Int32 = 0
        // The file is made and recorded in one step, so a stop can never miss it.
        let created = PendingOutputs.create {
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { createError = errno; return nil }
            return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        guard let created else { throw .io(path: destination, operation: "write (the process is stopping)", errno: ECANCELED) }
        guard fd >= 0, let path = created.path else {
            PendingOutputs.unregister(created.token)
            if createError == ENOENT || createError == ENOTDIR {
                // The output's folder is missing (it is never created): name it.
                throw .io(path: folder.isEmpty ? "/" : folder, operation: "write \(base) into the folder", errno: createError)
            }
            throw .io(path: destination, operation: "create temporary file for", errno: createError)
        }
        self.fd = fd
        self.temporaryPath = path
        self.pending = created.token
        fchmod(fd, 0o644)
    }

    deinit {
        if !finished { discard() }
    }

    func write(_ bytes: [UInt8]) throws(SafetensorsError) {
        let result: Result<Void, SafetensorsError> = bytes.withUnsafeBytes { raw in
            Result { () throws(SafetensorsError) in try write(raw) }
        }
        try result.get()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(SafetensorsError) {
        guard var p = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = Glibc.write(fd, p, min(remaining, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: temporaryPath, operation: "write", errno: errno)
            }
            remaining -= n
            p += n
        }
    }

    /// Writes `bytes` at `offset` (safe to call from several threads for disjoint ranges).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(SafetensorsError) {
        guard var p = bytes.baseAddress else { return }
        var remaining = bytes.count
        var position = off_t(offset)
        while remaining > 0 {
            let n = pwrite(fd, p, min(remaining, 1 << 30), position)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: temporaryPath, operation: "write", errno: errno)
            }
            remaining -= n
            p += n
            position += off_t(n)
        }
    }

    /// Copies `count` bytes of the file `source` from `offset` to `outOffset` inside the
    /// kernel when it can; returns false when the caller must copy itself.
    func copy(from source: Int32, offset: Int, count: Int, at outOffset: Int) throws(SafetensorsError) -> Bool {
        guard source >= 0 else { return false }
        var inOffset = Int64(offset)
        var destination = Int64(outOffset)
        var remaining = count
        while remaining > 0 {
            let n = Int(lorakit_copy_file_range_at(source, &inOffset, fd, &destination, remaining))
            if n < 0 {
                if errno == EINTR { continue }
                if remaining == count && (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP) { return false }
                throw .io(path: temporaryPath, operation: "copy into", errno: errno)
            }
            if n == 0 { throw .io(path: temporaryPath, operation: "copy into (short source)", errno: EIO) }
            remaining -= n
        }
        return true
    }

    /// Flushes, closes and renames the file into place.
    func commit() throws(SafetensorsError) {
        guard fsync(fd) == 0 else { throw .io(path: temporaryPath, operation: "fsync", errno: errno) }
        guard close(fd) == 0 else { fd = -1; throw .io(path: temporaryPath, operation: "close", errno: errno) }
        fd = -1
        var renameError: Int32 = 0
        let published = PendingOutputs.publish(pending) {
            if rename(temporaryPath, destination) != 0 { renameError = errno }
        }
        guard published else { throw .io(path: destination, operation: "write (the process is stopping)", errno: ECANCELED) }
        guard renameError == 0 else {
            PendingOutputs.unregister(pending)
            unlink(temporaryPath)
            throw .io(path: destination, operation: "rename into", errno: renameError)
        }
        pending = nil
        finished = true
    }

    /// Removes the temporary file.
    func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        PendingOutputs.unregister(pending)
        pending = nil
        finished = true
    }
}
