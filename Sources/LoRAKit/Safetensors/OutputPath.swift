#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Where an output may go: never onto an input, inside one, or around one.
///
/// Paths are compared after resolving symbolic links and `..` in the part that exists,
/// so `link.safetensors → a.safetensors`, `./x/../a.safetensors` and a folder holding
/// an input are all recognised; two names of one file (hard links) are recognised by
/// device and inode.
package enum OutputPath {
    /// The absolute path of `url` with symbolic links resolved in its longest existing prefix.
    package static func canonical(_ url: URL) -> String {
        var existing = url.standardizedFileURL
        var rest: [String] = []
        while !FileManager.default.fileExists(atPath: existing.path), existing.path != "/" {
            rest.insert(existing.lastPathComponent, at: 0)
            existing = existing.deletingLastPathComponent()
        }
        var resolved = existing.path
        if let real = realpath(existing.path, nil) {
            resolved = String(cString: real)
            free(real)
        }
        for component in rest { resolved = resolved == "/" ? "/" + component : resolved + "/" + component }
        return resolved
    }

    /// Why writing `output` would touch one of `inputs` (files or folders), or nil when it would not.
    package static func conflict(output: URL, inputs: [URL]) -> String? {
        let out = canonical(output)
        let outID = ByteStorage.fileID(atPath: out)
        for input in inputs {
            let path = canonical(input)
            if path == out || (outID != nil && ByteStorage.fileID(atPath: path) == outID) {
                return input.standardizedFileURL.path == output.standardizedFileURL.path
                    ? "the output is one of the inputs" : "the output is the input \(input.path)"
            }
            if path.hasPrefix(out == "/" ? "/" : out + "/") {
                return "the output folder contains an input (\(input.path))"
            }
            if out.hasPrefix(path + "/") {
                return "the output is inside an input folder (\(input.path))"
            }
        }
        return nil
    }

    /// Why a file written to `url` may not replace what is there: a folder, a device (`/dev/null`, `/dev/full`), a pipe
    /// or a socket; nil when nothing is there, or a regular file or a symbolic link (the link itself is replaced).
    /// Renaming a file over a device node would remove the device.
    package static func irreplaceable(_ url: URL) -> String? {
        var info = stat()
        guard lstat(url.path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG, S_IFLNK: return nil
        case S_IFDIR: return "is a folder"
        case S_IFCHR, S_IFBLK: return "is a device"
        case S_IFIFO: return "is a pipe"
        default: return "is not a regular file"
        }
    }

    /// Why an output cannot go into `folder`, which is not a folder: it does not exist, or something else is there.
    package static func missingFolderReason(_ folder: URL) -> String {
        FileManager.default.fileExists(atPath: folder.path)
            ? "\(folder.path) is not a folder" : "the folder \(folder.path) does not exist"
    }

    /// Whether `url` names an existing folder.
    package static func isFolder(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
