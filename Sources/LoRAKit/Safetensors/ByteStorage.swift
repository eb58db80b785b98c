#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The bytes of one safetensors file: a read-only memory mapping of a file on
/// disk, or an owned copy of bytes given in memory.
///
/// `@unchecked Sendable` is sound: the storage is never written after `init`,
/// and it is unmapped or freed only in `deinit`, when no view can reach it.
final class ByteStorage: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let count: Int
    /// The file it maps, if any, with its device and inode for "is this an input" checks.
    let path: String?
    let fileID: FileID?
    /// The open descriptor of a mapped file (kept for in-kernel copies), or -1.
    let descriptor: Int32
    private let isMapped: Bool

    struct FileID: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    /// Copies `bytes` into owned memory.
    init(copying bytes: [UInt8]) {
        count = bytes.count
        if bytes.isEmpty {
            base = nil
        } else {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 16)
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            base = UnsafeRawPointer(buffer)
        }
        path = nil
        fileID = nil
        descriptor = -1
        isMapped = false
    }

    /// Maps the file at `path` read-only. Pages are loaded on first access, so
    /// opening costs the same whatever the file's size.
    init(mapping path: String) throws(SafetensorsError) {
        // Non-blocking, so that a named pipe given as a file is refused below instead of waiting for a writer.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        var keepOpen = false
        defer { if !keepOpen { close(fd) } }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .notSafetensors(reason: "not a regular file") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let size = Int(st.st_size)
        self.path = path
        self.fileID = FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        self.count = size
        if size == 0 {
            base = nil
            descriptor = -1
            isMapped = false
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else { throw .io(path: path, operation: "mmap", errno: errno) }
        base = UnsafeRawPointer(mapped)
        descriptor = fd
        keepOpen = true
        isMapped = true
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        guard let base else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// Tells the kernel the pages of `range` will not be needed again soon, so a
    /// streaming pass over a large file does not keep it all resident.
    func release(_ range: Range<Int>) {
        guard isMapped, let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound / page * page
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    /// All bytes, valid while `self` is alive.
    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Identity of an existing file on disk, or nil when there is none.
    static func fileID(atPath path: String) -> FileID? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}
