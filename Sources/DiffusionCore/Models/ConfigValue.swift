/// diffusers configs write several fields either as one value for every block or as one value per block
/// (`attention_head_dim: 8` vs `[5, 10, 20]`); this decodes both and expands to a per-block list.
public enum PerBlock<Value: Decodable & Equatable & Sendable>: Decodable, Equatable, Sendable {
    case all(Value)
    case each([Value])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(Value.self) {
            self = .all(one)
        } else {
            self = .each(try container.decode([Value].self))
        }
    }

    /// The value for each of `count` blocks; `nil` when a list has another length.
    public func expanded(to count: Int) -> [Value]? {
        switch self {
        case let .all(value): return Array(repeating: value, count: count)
        case let .each(values): return values.count == count ? values : nil
        }
    }
}
