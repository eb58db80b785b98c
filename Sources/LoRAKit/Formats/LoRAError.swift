/// Everything that can go wrong between a LoRA file and a patched weight.
///
/// One enum for the whole LoRA seam: parsing (``LoRAFile``), ΔW math
/// (``LoRAModule/deltaWeight(shape:)``) and patching (``LoRAModule/apply(toWeight:shape:strength:)``).
/// Every case carries enough context for a one-line message.
public enum LoRAError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is not a readable safetensors file.
    case safetensors(SafetensorsError)
    /// A module's ΔW (or vector) cannot be fitted to the weight it targets.
    case shapeMismatch(target: String, expected: [Int], actual: [Int])
    /// The module exists but this operation does not apply to it (e.g. ΔW of an IA³ module).
    case unsupported(target: String, reason: String)
    /// A tensor holds something the family's rules do not allow (wrong rank, wrong size, non-finite alpha…).
    case invalidTensor(key: String, reason: String)
    /// A tensor the family needs is absent.
    case missingTensor(target: String, role: String)
    /// The BLAS layer refused the operands.
    case linearAlgebra(LinearAlgebraError)

    public var description: String {
        target.map { "\($0): \(detail)" } ?? detail
    }

    /// The module the error is about, for the cases that name one.
    public var target: String? {
        switch self {
        case .shapeMismatch(let target, _, _), .unsupported(let target, _), .missingTensor(let target, _): target
        case .safetensors, .invalidTensor, .linearAlgebra: nil
        }
    }

    /// The message without the module's name (for reports and errors that name the module already).
    public var detail: String {
        switch self {
        case .safetensors(let e): e.description
        case .shapeMismatch(_, let expected, let actual):
            "shape \(Self.format(actual)) does not fit weight shape \(Self.format(expected))"
        case .unsupported(_, let reason): reason
        case .invalidTensor(let key, let reason): "tensor \"\(key)\": \(reason)"
        case .missingTensor(_, let role): "missing \(role) tensor"
        case .linearAlgebra(let e): e.description
        }
    }

    static func format(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}
