/// A tensor inside a ``SafetensorsFile``: its entry plus a borrowed reference to
/// the file's bytes. Holding a view keeps the mapping alive; nothing is copied
/// until ``floats()`` or ``withUnsafeBytes(_:)`` is called.
public struct TensorView: Sendable {
    /// Name, dtype, shape and byte range.
    public let info: TensorInfo
    let storage: ByteStorage
    let dataStart: Int

    init(info: TensorInfo, storage: ByteStorage, dataStart: Int) {
        self.info = info
        self.storage = storage
        self.dataStart = dataStart
    }

    public var name: String { info.name }
    public var dtype: DType { info.dtype }
    public var shape: [Int] { info.shape }
    public var elementCount: Int { info.elementCount }

    /// The tensor's raw little-endian bytes, valid inside `body` only.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage.buffer[fileRange]))
    }

    /// A copy of the raw bytes.
    public func bytes() -> [UInt8] { withUnsafeBytes { Array($0) } }

    /// The elements converted to `Float` (bit-exact for F16, BF16, F8_E4M3 and
    /// F8_E5M2; F64 and 64-bit integers round to nearest, ties to even).
    public func floats() -> [Float] {
        withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: info.elementCount) { out, initialized in
                ElementConversion.decode(raw, dtype: info.dtype, into: out)
                initialized = info.elementCount
            }
        }
    }

    /// Converts the elements to `Float` into `out`, which must hold ``elementCount`` values.
    public func decode(into out: UnsafeMutableBufferPointer<Float>) {
        withUnsafeBytes { ElementConversion.decode($0, dtype: info.dtype, into: out) }
    }

    /// Byte range of the data in the whole file.
    var fileRange: Range<Int> { (dataStart + info.dataOffsets.lowerBound)..<(dataStart + info.dataOffsets.upperBound) }

    /// Drops the tensor's pages from this process's memory (they are read again if touched).
    public func releasePages() { storage.release(fileRange) }

    /// The source file's identity, used to refuse writing over an input.
    var sourceFileID: ByteStorage.FileID? { storage.fileID }
}
