/// The errors of the tensor and compute layer: shapes that cannot hold the data, tensors an operation cannot
/// take, and weights that cannot be used. Every case names the operation and the shapes involved.
public enum TensorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A dimension is negative.
    case negativeDimension(shape: [Int])
    /// The product of the dimensions does not fit in `Int` (or its byte size does not).
    case shapeOverflow(shape: [Int])
    /// The number of elements given does not match the shape.
    case elementCountMismatch(shape: [Int], count: Int)
    /// An operation was given a tensor with no elements (or a zero-sized dimension it needs).
    case emptyTensor(operation: String, shape: [Int])
    /// A tensor's shape is not the one the operation takes; `expected` says what it takes.
    case shapeMismatch(operation: String, expected: String, actual: [Int])
    /// An axis outside `0..<rank`.
    case invalidAxis(operation: String, axis: Int, rank: Int)
    /// A numeric argument outside its domain (group count not dividing channels, head count not dividing
    /// the width, a range outside the axis, a non-finite epsilon…).
    case invalidArgument(operation: String, reason: String)
    /// A dimension too large for the BLAS interface (32-bit indices).
    case dimensionTooLarge(operation: String, dimension: Int)
    /// A weight tensor has an element type the runtime does not compute with.
    case unsupportedWeightType(name: String, dtype: String)
    /// A named weight is not in the model's files.
    case missingWeight(name: String)

    public var description: String {
        switch self {
        case let .negativeDimension(shape): "negative dimension in shape \(shape)"
        case let .shapeOverflow(shape): "shape \(shape) has more elements than memory can address"
        case let .elementCountMismatch(shape, count): "shape \(shape) does not hold \(count) elements"
        case let .emptyTensor(operation, shape): "\(operation): empty tensor of shape \(shape)"
        case let .shapeMismatch(operation, expected, actual): "\(operation): expected \(expected), got shape \(actual)"
        case let .invalidAxis(operation, axis, rank): "\(operation): axis \(axis) out of range for rank \(rank)"
        case let .invalidArgument(operation, reason): "\(operation): \(reason)"
        case let .dimensionTooLarge(operation, dimension): "\(operation): dimension \(dimension) exceeds 32-bit BLAS indices"
        case let .unsupportedWeightType(name, dtype): "weight \(name): element type \(dtype) is not supported (F32, F16, BF16)"
        case let .missingWeight(name): "weight \(name) is not in the model files"
        }
    }
}
