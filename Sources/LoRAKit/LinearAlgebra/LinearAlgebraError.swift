/// Failures of the BLAS/LAPACK layer.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Operand shapes do not fit together.
    case shapeMismatch(operation: String, detail: String)
    /// A dimension is too large for the 32-bit BLAS/LAPACK interface.
    case dimensionTooLarge(Int)
    /// LAPACK returned a nonzero `info`.
    case lapack(routine: String, info: Int)

    public var description: String {
        switch self {
        case .shapeMismatch(let op, let detail): "\(op): shape mismatch (\(detail))"
        case .dimensionTooLarge(let n): "dimension \(n) exceeds the 32-bit BLAS index range"
        case .lapack(let routine, let info): "LAPACK \(routine) failed (info \(info))"
        }
    }
}
