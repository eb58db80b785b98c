/// The errors raised by random sources: a shape that cannot be drawn, or a source that has no more noise.
public enum RandomSourceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A dimension is negative or the element count overflows.
    case invalidShape([Int])
    /// The shape holds more elements than the generator can draw in one call.
    case tooManyElements(shape: [Int], limit: Int)
    /// The source has no (more) noise to give for this shape: a replay source ran out, or a source for
    /// deterministic runs was asked for noise.
    case exhausted(requestedShape: [Int])
    /// A recorded tensor does not hold as many elements as the requested shape.
    case shapeMismatch(expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case let .invalidShape(shape):
            return "cannot draw noise of shape \(shape): a dimension is negative or the element count overflows"
        case let .tooManyElements(shape, limit):
            return "cannot draw noise of shape \(shape): more than \(limit) elements in one draw"
        case let .exhausted(shape):
            return "the random source has no more noise of shape \(shape)"
        case let .shapeMismatch(expected, actual):
            return "recorded noise of shape \(actual) does not fit the requested shape \(expected)"
        }
    }
}

extension RandomSourceError {
    /// The element count of `shape`, or a thrown error if a dimension is negative, the product overflows,
    /// or it exceeds `limit`.
    static func elementCount(of shape: [Int], limit: Int = Int(Int32.max)) throws(RandomSourceError) -> Int {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { throw .invalidShape(shape) }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw .invalidShape(shape) }
            count = product
        }
        guard count <= limit else { throw .tooManyElements(shape: shape, limit: limit) }
        return count
    }
}
