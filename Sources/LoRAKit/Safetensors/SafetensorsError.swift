/// Everything that can be wrong with a safetensors file, one case per check.
///
/// The checks follow the reference implementation (huggingface/safetensors) and
/// add the ones it leaves implicit (duplicate keys, gaps and overlaps named apart).
public enum SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is empty, a PyTorch pickle/zip archive, a PNG/JPEG, GGUF, a git-LFS pointer, an HTML page or
    /// other text, or otherwise clearly not safetensors.
    case notSafetensors(reason: String)
    /// Fewer than 8 bytes: no room for the header length.
    case headerTooSmall(fileSize: Int)
    /// The declared header length is over the 100 MB limit.
    case headerTooLarge(length: UInt64)
    /// The declared header length runs past the end of the file.
    case headerLengthPastEnd(length: UInt64, fileSize: Int)
    /// The header is not valid UTF-8.
    case invalidUTF8
    /// The header is not valid JSON (with the byte offset of the problem inside the header).
    case invalidJSON(reason: String, offset: Int)
    /// The header's JSON is not an object at the top level.
    case headerNotAnObject
    /// The same key appears twice in one JSON object.
    case duplicateKey(String)
    /// A tensor entry misses a field or holds a value of the wrong JSON type.
    case invalidTensorEntry(tensor: String, reason: String)
    /// A tensor names a dtype the format does not define.
    case unknownDType(tensor: String, dtype: String)
    /// A negative dimension or offset.
    case negativeValue(tensor: String, field: String)
    /// Shape × element size (or an offset) overflows 64-bit arithmetic.
    case overflow(tensor: String)
    /// `data_offsets` has its end before its start.
    case reversedOffsets(tensor: String, begin: UInt64, end: UInt64)
    /// The byte range does not match shape × element size.
    case sizeMismatch(tensor: String, expected: UInt64, actual: UInt64)
    /// Two tensors claim overlapping bytes.
    case overlappingOffsets(tensor: String, other: String)
    /// Bytes between two tensors (or before the first) belong to none.
    case gapInOffsets(tensor: String, expectedBegin: UInt64, actualBegin: UInt64)
    /// A tensor ends past the end of the file.
    case offsetsOutOfBounds(tensor: String, end: UInt64, dataSize: UInt64)
    /// The tensors do not cover the data section up to the end of the file.
    case incompleteBuffer(covered: UInt64, dataSize: UInt64)
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(key: String?, reason: String)
    /// A tensor name that is not in the file.
    case tensorNotFound(String)
    /// A conversion that the element type does not support (e.g. integers asked as half floats).
    case unsupportedConversion(tensor: String, from: DType, to: String)
    /// Reading or writing the file failed at the operating-system level.
    case io(path: String, operation: String, errno: Int32)
    /// The output path exists and overwriting was not allowed.
    case outputExists(path: String)
    /// The output path is one of the input files.
    case wouldOverwriteInput(path: String)
    /// Something other than a regular file is at the output path (a folder, a device, a pipe); it is never replaced.
    case outputNotAFile(path: String, reason: String)
    /// A tensor given to the writer does not hold the bytes its shape and dtype require.
    case invalidTensorForWriting(tensor: String, reason: String)

    public var description: String {
        switch self {
        case .notSafetensors(let reason): "not a safetensors file: \(reason)"
        case .headerTooSmall(let size): "file too small for a safetensors header (\(size) bytes)"
        case .headerTooLarge(let n): "header length \(n) exceeds the 100 MB limit"
        case .headerLengthPastEnd(let n, let size): "header length \(n) runs past the end of the file (\(size) bytes)"
        case .invalidUTF8: "header is not valid UTF-8"
        case .invalidJSON(let reason, let offset): "header is not valid JSON at byte \(offset): \(reason)"
        case .headerNotAnObject: "header is not a JSON object"
        case .duplicateKey(let key): "duplicate key \"\(key)\" in header"
        case .invalidTensorEntry(let t, let reason): "tensor \"\(t)\": \(reason)"
        case .unknownDType(let t, let d): "tensor \"\(t)\": unknown dtype \"\(d)\""
        case .negativeValue(let t, let field): "tensor \"\(t)\": negative value in \(field)"
        case .overflow(let t): "tensor \"\(t)\": shape or offsets overflow"
        case .reversedOffsets(let t, let b, let e): "tensor \"\(t)\": data_offsets end \(e) is before begin \(b)"
        case .sizeMismatch(let t, let expected, let actual):
            "tensor \"\(t)\": shape and dtype need \(expected) bytes but data_offsets span \(actual)"
        case .overlappingOffsets(let t, let other): "tensor \"\(t)\" overlaps tensor \"\(other)\""
        case .gapInOffsets(let t, let expected, let actual):
            "tensor \"\(t)\" begins at \(actual), leaving a gap after byte \(expected)"
        case .offsetsOutOfBounds(let t, let end, let size): "tensor \"\(t)\" ends at \(end), past the data section (\(size) bytes)"
        case .incompleteBuffer(let covered, let size): "tensors cover \(covered) of \(size) data bytes"
        case .invalidMetadata(let key, let reason):
            key.map { "__metadata__ entry \"\($0)\": \(reason)" } ?? "__metadata__: \(reason)"
        case .tensorNotFound(let name): "no tensor named \"\(name)\""
        case .unsupportedConversion(let t, let from, let to): "tensor \"\(t)\": cannot convert \(from.rawValue) to \(to)"
        case .io(let path, let op, let err): "\(op) \(path): \(String(cString: strerror(err)))"
        case .outputExists(let path): "\(path) exists and replacing it was not allowed"
        case .wouldOverwriteInput(let path): "refusing to write over input file \(path)"
        case .outputNotAFile(let path, let reason): "\(path) \(reason); only a regular file is ever replaced"
        case .invalidTensorForWriting(let t, let reason): "cannot write tensor \"\(t)\": \(reason)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
