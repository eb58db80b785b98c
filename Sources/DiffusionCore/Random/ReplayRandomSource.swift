/// Returns pre-recorded noise tensors in order (e.g. the noise diffusers drew in a reference run).
public struct ReplayRandomSource: RandomSource, Sendable {
    public private(set) var remaining: [Tensor]
    /// The number of tensors handed out so far.
    public private(set) var drawn = 0

    public init(_ tensors: [Tensor]) { remaining = tensors }

    /// The next recorded tensor, reshaped to `shape`.
    /// - Throws: ``RandomSourceError/exhausted(requestedShape:)`` when none is left,
    ///   ``RandomSourceError/shapeMismatch(expected:actual:)`` when it holds a different element count.
    public mutating func normal(shape: [Int]) throws(RandomSourceError) -> Tensor {
        guard !remaining.isEmpty else { throw .exhausted(requestedShape: shape) }
        let t = remaining.removeFirst()
        guard shape.allSatisfy({ $0 >= 0 }), t.count == shape.reduce(1, *) else {
            throw .shapeMismatch(expected: shape, actual: t.shape)
        }
        drawn += 1
        do { return try t.reshaped(shape) } catch { throw .shapeMismatch(expected: shape, actual: t.shape) }
    }
}
