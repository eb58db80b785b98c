import Foundation

/// A parsed safetensors file whose tensor data stays where it is.
///
/// Opening maps the file and parses the header only, so the cost does not depend
/// on the size of the data. Views returned by ``tensor(named:)`` borrow the
/// mapping and keep it alive; nothing is copied until a view is converted.
///
/// ```swift
/// let file = try SafetensorsFile(contentsOf: url)
/// for info in file.tensors { print(info.name, info.dtype, info.shape) }
/// let weights: [Float] = try file.tensor(named: "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight").floats()
/// ```
public final class SafetensorsFile: Sendable {
    /// The file's path, or nil when parsed from bytes in memory.
    public let path: String?
    /// The size of the whole file in bytes.
    public let fileSize: Int
    /// The length of the JSON header in bytes (the first 8 bytes of the file hold it).
    public let headerLength: Int
    /// Every tensor, in data-offset order.
    public let tensors: [TensorInfo]
    /// The `__metadata__` string map, or nil when the header has none.
    public let metadata: [String: String]?

    let storage: ByteStorage
    private let index: [String: Int]

    /// Maps and parses the file at `url`.
    /// - Throws: ``SafetensorsError`` naming the first check the file fails.
    public convenience init(contentsOf url: URL) throws(SafetensorsError) {
        try self.init(storage: ByteStorage(mapping: url.path))
    }

    /// Maps and parses the file at `path`.
    public convenience init(path: String) throws(SafetensorsError) {
        try self.init(storage: ByteStorage(mapping: path))
    }

    /// Parses a whole safetensors file held in memory (the bytes are copied).
    public convenience init(bytes: [UInt8]) throws(SafetensorsError) {
        try self.init(storage: ByteStorage(copying: bytes))
    }

    init(storage: ByteStorage) throws(SafetensorsError) {
        let parsed = try SafetensorsHeaderParser.parse(storage.buffer)
        self.storage = storage
        self.path = storage.path
        self.fileSize = storage.count
        self.headerLength = parsed.headerLength
        self.tensors = parsed.tensors
        self.metadata = parsed.metadata
        self.index = parsed.positions
    }

    /// Byte offset of the data section from the start of the file.
    public var dataStart: Int { 8 + headerLength }

    /// The tensor names, in data-offset order.
    public var names: [String] { tensors.map(\.name) }

    /// The entry named `name`, or nil.
    public func info(named name: String) -> TensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// Whether a tensor named `name` exists.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// A view of the tensor named `name`, borrowing this file's bytes.
    /// - Throws: ``SafetensorsError/tensorNotFound(_:)``.
    public func tensor(named name: String) throws(SafetensorsError) -> TensorView {
        guard let i = index[name] else { throw .tensorNotFound(name) }
        return TensorView(info: tensors[i], storage: storage, dataStart: dataStart)
    }

    /// A view of the tensor described by `info` (an entry of ``tensors``).
    public func tensor(_ info: TensorInfo) -> TensorView {
        TensorView(info: info, storage: storage, dataStart: dataStart)
    }

    /// The bytes after the header (kohya's `sshs_model_hash` hashes these).
    public func withDataBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let all = storage.buffer
        return try body(UnsafeRawBufferPointer(rebasing: all[dataStart..<all.count]))
    }

    /// All bytes of the file.
    public func withFileBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(storage.buffer)
    }
}
