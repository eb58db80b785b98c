/// One tensor entry of a safetensors header: where its bytes are and how to read them.
/// Describes the data without touching it.
public struct TensorInfo: Sendable, Hashable {
    /// The tensor's key in the file.
    public var name: String
    /// The element type.
    public var dtype: DType
    /// The dimensions, outermost first (row-major). `[]` is a scalar of one element.
    public var shape: [Int]
    /// The byte range inside the data section (after the 8-byte length and the header).
    public var dataOffsets: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    /// The number of elements (`1` for a scalar, `0` when a dimension is 0).
    public var elementCount: Int { shape.reduce(1, *) }

    /// The number of bytes of data.
    public var byteCount: Int { dataOffsets.count }
}
