import Foundation

/// Writes a safetensors file the way the reference library does: tensors laid out
/// by descending dtype alignment then name, the header compact JSON with
/// `__metadata__` first, padded with spaces to 8 bytes.
///
/// Data is streamed tensor by tensor, so a file larger than memory can be
/// written from mapped inputs or from a producer that computes each tensor on
/// demand. The file appears only when complete: bytes go to a temporary file in
/// the target folder, which is flushed and renamed into place.
public struct SafetensorsWriter: Sendable {
    /// Where a tensor's bytes come from.
    public enum Source: Sendable {
        /// Raw little-endian bytes.
        case bytes([UInt8])
        /// A tensor of a mapped file, copied byte for byte.
        case view(TensorView)
        /// Values encoded to the entry's dtype when written.
        case floats([Float])
        /// A closure that fills the entry's bytes when its turn comes (called once).
        case producer(@Sendable (UnsafeMutableRawBufferPointer) throws -> Void)
    }

    /// One tensor to write.
    public struct Entry: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var source: Source

        public init(name: String, dtype: DType, shape: [Int], source: Source) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.source = source
        }

        public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// The `__metadata__` map, or nil to write none.
    public var metadata: [String: String]?
    /// The tensors to write, in any order.
    public private(set) var entries: [Entry] = []
    /// Index of each name in `entries`.
    private var positions: [String: Int] = [:]

    /// How many threads write tensors at once, each to its own place in the file
    /// (`.producer` closures must then be safe to run concurrently with each other).
    public var producerThreads = 1

    public init(metadata: [String: String]? = nil) {
        self.metadata = metadata
    }

    /// Adds a tensor. A later entry with the same name replaces an earlier one.
    public mutating func add(_ entry: Entry) {
        if let i = positions[entry.name] {
            entries[i] = entry
        } else {
            positions[entry.name] = entries.count
            entries.append(entry)
        }
    }

    /// Adds a tensor copied from another file.
    public mutating func add(_ view: TensorView, as name: String? = nil) {
        add(Entry(name: name ?? view.name, dtype: view.dtype, shape: view.shape, source: .view(view)))
    }

    /// Adds `Float` values to be stored as `dtype` (F32, F16, BF16 or F64).
    public mutating func add(name: String, shape: [Int], floats: [Float], as dtype: DType = .f32) {
        add(Entry(name: name, dtype: dtype, shape: shape, source: .floats(floats)))
    }

    /// Entries in file order: descending dtype alignment, then name.
    var orderedEntries: [Entry] {
        entries.sorted { a, b in a.dtype != b.dtype ? a.dtype > b.dtype : a.name < b.name }
    }

    /// The 8-byte length followed by the padded header, exactly as written.
    public func serializedHeader() throws(SafetensorsError) -> [UInt8] {
        var json = "{"
        var first = true
        if let metadata {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for entry in orderedEntries {
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidTensorForWriting(tensor: entry.name, reason: "negative dimension in \(entry.shape)")
            }
            let end = offset + entry.byteCount
            if !first { json += "," }
            first = false
            json += "\(Self.quoted(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":["
            json += entry.shape.map(String.init).joined(separator: ",")
            json += "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var header = Array(json.utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        let n = UInt64(header.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + header
    }

    /// JSON string literal as serde_json writes it (non-ASCII kept as UTF-8).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Writes the file to `url` atomically.
    /// - Parameters:
    ///   - overwrite: replace an existing file (never one of the inputs).
    ///   - inputs: further paths that must not be overwritten (views' files are always protected).
    ///   - progress: called after each tensor with (tensors written, total).
    ///   - beforeCommit: called when every tensor is written, before the file is renamed into place;
    ///     throwing from it discards the file.
    /// - Throws: ``SafetensorsError`` for I/O and validation failures, or whatever a producer or
    ///   `beforeCommit` throws. On any failure no file is left at `url` (an existing file there is untouched).
    public func write(
        to url: URL,
        overwrite: Bool = false,
        protecting inputs: [URL] = [],
        progress: ((Int, Int) -> Void)? = nil,
        beforeCommit: (() throws -> Void)? = nil
    ) throws {
        let path = url.path
        let ordered = orderedEntries
        for entry in ordered { try validate(entry) }
        if let reason = OutputPath.irreplaceable(url) { throw SafetensorsError.outputNotAFile(path: path, reason: reason) }
        if let existing = ByteStorage.fileID(atPath: path) {
            let protected = Set(ordered.compactMap { entry -> ByteStorage.FileID? in
                if case .view(let v) = entry.source { return v.sourceFileID }
                return nil
            } + inputs.compactMap { ByteStorage.fileID(atPath: $0.path) })
            if protected.contains(existing) { throw SafetensorsError.wouldOverwriteInput(path: path) }
            if !overwrite { throw SafetensorsError.outputExists(path: path) }
        }
        let header = try serializedHeader()
        var offsets: [Int] = []
        var position = header.count
        for entry in ordered {
            offsets.append(position)
            position += entry.byteCount
        }
        let file = try AtomicFile(destination: path)
        do {
            try header.withUnsafeBytes { try file.write($0, at: 0) }
            try ParallelTensorWriter.run(count: ordered.count, threads: producerThreads, progress: progress) { i, scratch in
                let entry = ordered[i]
                let offset = offsets[i]
                switch entry.source {
                case .bytes(let bytes):
                    try bytes.withUnsafeBytes { try file.write($0, at: offset) }
                case .view(let view):
                    let range = view.fileRange
                    if try !file.copy(from: view.storage.descriptor, offset: range.lowerBound, count: range.count, at: offset) {
                        try view.withUnsafeBytes { try file.write($0, at: offset) }
                        view.releasePages()
                    }
                case .floats(let values):
                    let out = scratch.bytes(entry.byteCount)
                    values.withUnsafeBufferPointer { ElementConversion.encode($0, as: entry.dtype, into: out) }
                    try file.write(UnsafeRawBufferPointer(out), at: offset)
                case .producer(let fill):
                    let out = scratch.bytes(entry.byteCount)
                    try fill(out)
                    try file.write(UnsafeRawBufferPointer(out), at: offset)
                }
            }
            try beforeCommit?()
            try file.commit()
        } catch {
            file.discard()
            throw error
        }
    }

    private func validate(_ entry: Entry) throws(SafetensorsError) {
        guard entry.shape.allSatisfy({ $0 >= 0 }) else {
            throw .invalidTensorForWriting(tensor: entry.name, reason: "negative dimension in \(entry.shape)")
        }
        if entry.name == "__metadata__" {
            throw .invalidTensorForWriting(tensor: entry.name, reason: "the name is reserved for metadata")
        }
        let expected = entry.byteCount
        switch entry.source {
        case .bytes(let b) where b.count != expected:
            throw .invalidTensorForWriting(tensor: entry.name, reason: "\(b.count) bytes given, \(expected) needed")
        case .view(let v) where v.dtype != entry.dtype || v.shape.reduce(1, *) != entry.shape.reduce(1, *):
            throw .invalidTensorForWriting(tensor: entry.name, reason: "view is \(v.dtype.rawValue) \(v.shape)")
        case .floats(let f) where f.count * entry.dtype.byteSize != expected:
            throw .invalidTensorForWriting(tensor: entry.name, reason: "\(f.count) values given for shape \(entry.shape)")
        case .floats where !ElementConversion.canEncode(to: entry.dtype):
            throw .unsupportedConversion(tensor: entry.name, from: .f32, to: entry.dtype.rawValue)
        default:
            break
        }
    }
}
