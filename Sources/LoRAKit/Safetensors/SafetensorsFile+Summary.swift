/// Counts over a file's tensors, computed from the header alone.
public struct SafetensorsSummary: Sendable, Equatable {
    /// Tensors, parameters and bytes of one dtype.
    public struct DTypeTotals: Sendable, Equatable {
        public var dtype: DType
        public var tensorCount: Int
        public var parameterCount: Int
        public var byteCount: Int
    }

    public var tensorCount: Int
    public var parameterCount: Int
    public var dataByteCount: Int
    /// Totals per dtype, largest byte count first.
    public var byDType: [DTypeTotals]
}

extension SafetensorsFile {
    /// Tensor, parameter and byte totals, overall and per dtype.
    public var summary: SafetensorsSummary {
        var totals: [DType: SafetensorsSummary.DTypeTotals] = [:]
        for info in tensors {
            totals[info.dtype, default: .init(dtype: info.dtype, tensorCount: 0, parameterCount: 0, byteCount: 0)].tensorCount += 1
            totals[info.dtype]!.parameterCount += info.elementCount
            totals[info.dtype]!.byteCount += info.byteCount
        }
        let byDType = totals.values.sorted { ($0.byteCount, $1.dtype) > ($1.byteCount, $0.dtype) }
        return SafetensorsSummary(
            tensorCount: tensors.count,
            parameterCount: byDType.reduce(0) { $0 + $1.parameterCount },
            dataByteCount: byDType.reduce(0) { $0 + $1.byteCount },
            byDType: byDType)
    }
}
