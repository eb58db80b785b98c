import LoRAKit

/// A parameter's values with LoRAs fused in, at the precision the model stores it: half precision for a weight
/// mapped as F16 / BF16 (so a fused layer costs what the mapped one did), float32 otherwise.
enum FusedValues: Sendable {
    /// Canonical shape, contiguous.
    case float32(Tensor)
    /// F16 or BF16 elements in canonical order.
    case half(HalfBuffer, shape: [Int])

    var shape: [Int] {
        switch self {
        case let .float32(t): t.shape
        case let .half(_, shape): shape
        }
    }

    /// The bytes the values occupy.
    var byteCount: Int {
        switch self {
        case let .float32(t): t.count * 4
        case let .half(buffer, _): buffer.count * 2
        }
    }

    /// The values widened to float32 (exact).
    func floats() -> [Float] {
        switch self {
        case let .float32(t): t.scalars
        case let .half(buffer, _): buffer.floats()
        }
    }

    /// The values as a weight matrix (no copy).
    func matrix() throws(TensorError) -> WeightMatrix {
        switch self {
        case let .float32(t): try WeightMatrix(t)
        case let .half(buffer, shape): try WeightMatrix(half: buffer, shape: shape)
        }
    }
}
