/// A source for deterministic runs: any draw is an error.
public struct NoRandomSource: RandomSource, Sendable {
    public init() {}

    /// Always throws ``RandomSourceError/exhausted(requestedShape:)``.
    public mutating func normal(shape: [Int]) throws(RandomSourceError) -> Tensor {
        throw .exhausted(requestedShape: shape)
    }
}
