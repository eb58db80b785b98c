/// The element types of the safetensors format.
///
/// Cases are declared in increasing alignment order, the order the reference
/// writer uses (descending) to lay tensors out so that every tensor is aligned.
public enum DType: String, CaseIterable, Sendable, Codable, Comparable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// Whether the type holds floating-point values (and so converts to `Float` meaningfully).
    public var isFloatingPoint: Bool {
        switch self {
        case .f8E5M2, .f8E4M3, .f16, .bf16, .f32, .f64: true
        default: false
        }
    }

    /// Position in the reference alignment order.
    var alignmentRank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: DType, rhs: DType) -> Bool { lhs.alignmentRank < rhs.alignmentRank }
}
