/// A dense, row-major, contiguous tensor of `Float` values with value semantics.
///
/// Memory layout: row-major (C order). Images and latents are `NCHW`; linear
/// weights are `[out, in]`; conv weights are `[out, in, kh, kw]`. A shape of `[]`
/// is a scalar holding one element.
public struct Tensor: Sendable, Equatable {
    /// The extent of each dimension.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.product`.
    public var scalars: [Float]

    /// Creates a tensor from its shape and elements.
    /// - Precondition: `scalars.count` equals the product of `shape` (a programmer error otherwise).
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(scalars.count == shape.reduce(1, *), "shape \(shape) does not hold \(scalars.count) elements")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, scalars: Array(repeating: value, count: shape.reduce(1, *)))
    }

    /// The number of elements.
    public var count: Int { scalars.count }

    /// The same elements seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }
}
