/// Streams a safetensors header's top-level object straight into ``TensorInfo`` values.
///
/// No JSON tree is built for tensor entries: an entry written the usual way (an object with exactly
/// `dtype`, `shape` and `data_offsets`, unescaped field names, plain non-negative integers that fit)
/// is read in one pass. Anything else (escapes, unknown or repeated fields, a failed check) is read
/// again from the entry's first byte by the general ``HeaderJSONParser`` and judged by
/// ``SafetensorsHeaderParser/entry(name:value:)``, so every error is the one the tree reader gives.
///
/// Errors come in the tree reader's order too: a syntax error or duplicate key anywhere in the header
/// wins over an invalid entry, and the first invalid entry in file order wins over later ones.
extension HeaderJSONParser {
    struct Entries {
        /// Tensors in file order.
        var tensors: [TensorInfo]
        var metadata: [String: String]?
        /// Tensor name → position in ``tensors``.
        var positions: [String: Int]
    }

    /// Reads the header `bytes` (already checked to be UTF-8).
    static func readEntries(_ bytes: UnsafeRawBufferPointer) throws(SafetensorsError) -> Entries {
        var reader = HeaderJSONParser(bytes: bytes)
        reader.skipWhitespace()
        guard reader.current == UInt8(ascii: "{") else {
            // Not an object: the tree reader reports what it is (or the syntax error in it).
            _ = try HeaderJSONParser.parse(bytes)
            throw .headerNotAnObject
        }
        reader.index += 1
        // About 90 header bytes per tensor entry in practice.
        let estimate = bytes.count / 64 + 8
        var entries = Entries(tensors: [], metadata: nil, positions: Dictionary(minimumCapacity: estimate))
        entries.tensors.reserveCapacity(estimate)
        var sawMetadata = false
        var invalid: SafetensorsError?
        reader.skipWhitespace()
        if reader.current == UInt8(ascii: "}") {
            reader.index += 1
        } else {
            while true {
                reader.skipWhitespace()
                guard reader.current == UInt8(ascii: "\"") else { throw reader.error("expected a string key") }
                let key = try reader.parseString()
                if key == "__metadata__" {
                    guard !sawMetadata else { throw .duplicateKey(key) }
                    sawMetadata = true
                } else {
                    guard entries.positions.updateValue(entries.tensors.count, forKey: key) == nil else {
                        throw .duplicateKey(key)
                    }
                }
                reader.skipWhitespace()
                try reader.expect(UInt8(ascii: ":"), "':'")
                reader.skipWhitespace()
                let valueStart = reader.index
                if key != "__metadata__", invalid == nil, let info = reader.plainEntry(name: key) {
                    entries.tensors.append(info)
                } else {
                    reader.index = valueStart
                    let value = try reader.parseValue(depth: 1)
                    if invalid == nil {
                        do {
                            if key == "__metadata__" {
                                entries.metadata = try SafetensorsHeaderParser.metadata(value)
                            } else {
                                entries.tensors.append(try SafetensorsHeaderParser.entry(name: key, value: value))
                            }
                        } catch {
                            invalid = error
                        }
                    }
                }
                reader.skipWhitespace()
                if reader.current == UInt8(ascii: ",") { reader.index += 1; continue }
                try reader.expect(UInt8(ascii: "}"), "',' or '}'")
                break
            }
        }
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw reader.error("unexpected data after the JSON value") }
        if let invalid { throw invalid }
        return entries
    }

    // MARK: - The one-pass entry

    private enum EntryField { case dtype, shape, dataOffsets }

    /// One tensor entry in the usual spelling, fully checked, or nil (nothing thrown) for anything else.
    /// On nil, `index` is left anywhere inside the entry; the caller rewinds.
    private mutating func plainEntry(name: String) -> TensorInfo? {
        guard current == UInt8(ascii: "{") else { return nil }
        index += 1
        var dtype: DType?
        var shape: [Int]?
        var offsets: (begin: UInt64, end: UInt64)?
        for fieldNumber in 0..<3 {
            skipWhitespace()
            guard let field = plainFieldName() else { return nil }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { return nil }
            index += 1
            skipWhitespace()
            switch field {
            case .dtype:
                guard dtype == nil, let d = plainDType() else { return nil }
                dtype = d
            case .shape:
                guard shape == nil, let s = plainIntegers() else { return nil }
                shape = s.map { Int($0) }
            case .dataOffsets:
                guard offsets == nil, let o = plainIntegers(), o.count == 2 else { return nil }
                offsets = (o[0], o[1])
            }
            skipWhitespace()
            guard current == UInt8(ascii: fieldNumber < 2 ? "," : "}") else { return nil }
            index += 1
        }
        guard let dtype, let shape, let (begin, end) = offsets, begin <= end else { return nil }
        var elements: UInt64 = 1
        for d in shape {
            let (p, o) = elements.multipliedReportingOverflow(by: UInt64(d))
            guard !o else { return nil }
            elements = p
        }
        let (size, o) = elements.multipliedReportingOverflow(by: UInt64(dtype.byteSize))
        guard !o, size == end - begin, end <= UInt64(Int.max) else { return nil }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: Int(begin)..<Int(end))
    }

    /// The bytes of an unescaped string at `index` (after its opening quote), or nil; moves past the closing quote.
    private mutating func plainStringBytes() -> UnsafeRawBufferPointer? {
        guard current == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var end = start
        while end < bytes.count {
            let c = bytes[end]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") || c < 0x20 { return nil }
            end += 1
        }
        guard end < bytes.count else { return nil }
        index = end + 1
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    private mutating func plainFieldName() -> EntryField? {
        guard let s = plainStringBytes() else { return nil }
        if s.elementsEqual("dtype".utf8) { return .dtype }
        if s.elementsEqual("shape".utf8) { return .shape }
        if s.elementsEqual("data_offsets".utf8) { return .dataOffsets }
        return nil
    }

    private mutating func plainDType() -> DType? {
        guard let s = plainStringBytes(), s.count <= 8 else { return nil }
        return DType(rawValue: String(decoding: s, as: UTF8.self))
    }

    /// `[n, …]` of integers without sign, fraction or exponent, each at most `Int.max`.
    private mutating func plainIntegers() -> [UInt64]? {
        guard current == UInt8(ascii: "[") else { return nil }
        index += 1
        var values: [UInt64] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return values }
        while true {
            skipWhitespace()
            guard let v = plainInteger() else { return nil }
            values.append(v)
            skipWhitespace()
            guard let c = current else { return nil }
            index += 1
            if c == UInt8(ascii: ",") { continue }
            return c == UInt8(ascii: "]") ? values : nil
        }
    }

    private mutating func plainInteger() -> UInt64? {
        let zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")
        guard let first = current, first >= zero, first <= nine else { return nil }
        var value: UInt64 = 0
        if first == zero {
            index += 1
        } else {
            while let c = current, c >= zero, c <= nine {
                let (t, o1) = value.multipliedReportingOverflow(by: 10)
                let (v, o2) = t.addingReportingOverflow(UInt64(c - zero))
                guard !o1, !o2 else { return nil }
                value = v
                index += 1
            }
        }
        // A fraction, an exponent or a digit after a leading zero: not a plain integer.
        if let c = current, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || (c >= zero && c <= nine) {
            return nil
        }
        guard value <= UInt64(Int.max) else { return nil }
        return value
    }
}
