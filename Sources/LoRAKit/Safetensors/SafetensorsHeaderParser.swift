/// Reads and validates a safetensors header, as strictly as huggingface/safetensors.
enum SafetensorsHeaderParser {
    /// The reference implementation's header size limit.
    static let maxHeaderLength: UInt64 = 100_000_000

    struct Parsed {
        var headerLength: Int
        /// Tensors in data-offset order.
        var tensors: [TensorInfo]
        var metadata: [String: String]?
        /// Tensor name → position in ``tensors``.
        var positions: [String: Int]
    }

    static func parse(_ file: UnsafeRawBufferPointer) throws(SafetensorsError) -> Parsed {
        try rejectForeignFormats(file)
        guard file.count >= 8 else { throw .headerTooSmall(fileSize: file.count) }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(file[i]) }
        guard n <= maxHeaderLength else { throw .headerTooLarge(length: n) }
        guard n <= UInt64(file.count - 8) else { throw .headerLengthPastEnd(length: n, fileSize: file.count) }
        let headerLength = Int(n)
        let header = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        guard isValidUTF8(header) else { throw .invalidUTF8 }
        var entries = try HeaderJSONParser.readEntries(header)
        let dataSize = UInt64(file.count - 8 - headerLength)
        try validateLayout(&entries, dataSize: dataSize)
        return Parsed(headerLength: headerLength, tensors: entries.tensors, metadata: entries.metadata, positions: entries.positions)
    }

    /// UTF-8 validation without building a String: ASCII (the usual header) is
    /// checked eight bytes at a time, anything else by the standard decoder.
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        while i < n, bytes[i] < 0x80 { i += 1 }
        if i == n { return true }
        // Bytes before `i` are ASCII, so `i` starts a character.
        return String(validating: UnsafeRawBufferPointer(rebasing: bytes[i...]), as: UTF8.self) != nil
    }

    /// Distinct errors for files that are plainly something else (including text: a git-LFS pointer, an HTML
    /// page). Only files whose first
    /// eight bytes are not a usable header length are checked: a real header length can
    /// begin with the same bytes as a pickle (640 is `80 02 00 …`).
    private static func rejectForeignFormats(_ file: UnsafeRawBufferPointer) throws(SafetensorsError) {
        if file.isEmpty { throw .notSafetensors(reason: "the file is empty") }
        if file.count >= 8 {
            var n: UInt64 = 0
            for i in (0..<8).reversed() { n = n << 8 | UInt64(file[i]) }
            if n <= maxHeaderLength && n <= UInt64(file.count - 8) { return }
        }
        func starts(with prefix: [UInt8]) -> Bool {
            file.count >= prefix.count && zip(prefix, file).allSatisfy { $0 == $1 }
        }
        if starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            throw .notSafetensors(reason: "a zip archive (PyTorch .ckpt/.pt checkpoint?); pickles are never loaded")
        }
        if starts(with: [0x80]) && file.count >= 2 && (2...5).contains(file[1]) {
            throw .notSafetensors(reason: "a Python pickle (legacy PyTorch checkpoint); pickles are never loaded")
        }
        if starts(with: [0x89, 0x50, 0x4E, 0x47]) { throw .notSafetensors(reason: "a PNG image") }
        if starts(with: [0xFF, 0xD8, 0xFF]) { throw .notSafetensors(reason: "a JPEG image") }
        if starts(with: Array("GGUF".utf8)) { throw .notSafetensors(reason: "a GGUF file") }
        if let text = TextFileSniffer.describe(file) { throw .notSafetensors(reason: text) }
    }

    /// `__metadata__`: an object of strings.
    static func metadata(_ value: HeaderJSON) throws(SafetensorsError) -> [String: String] {
        guard case .object(let members) = value else {
            throw .invalidMetadata(key: nil, reason: "expected an object, found \(value.typeName)")
        }
        var result: [String: String] = [:]
        for member in members {
            let (key, v) = (member.key, member.value)
            guard case .string(let s) = v else {
                throw .invalidMetadata(key: key, reason: "expected a string value, found \(v.typeName)")
            }
            result[key] = s
        }
        return result
    }

    /// One tensor entry, every check applied.
    static func entry(name: String, value: HeaderJSON) throws(SafetensorsError) -> TensorInfo {
        guard case .object(let fields) = value else {
            throw .invalidTensorEntry(tensor: name, reason: "expected an object, found \(value.typeName)")
        }
        var dtypeValue: HeaderJSON?
        var shapeValue: HeaderJSON?
        var offsetsValue: HeaderJSON?
        for field in fields {
            let (key, v) = (field.key, field.value)
            switch key {
            case "dtype": dtypeValue = v
            case "shape": shapeValue = v
            case "data_offsets": offsetsValue = v
            default: throw .invalidTensorEntry(tensor: name, reason: "unknown field \"\(key)\"")
            }
        }
        guard let dtypeValue else { throw .invalidTensorEntry(tensor: name, reason: "missing field \"dtype\"") }
        guard let shapeValue else { throw .invalidTensorEntry(tensor: name, reason: "missing field \"shape\"") }
        guard let offsetsValue else { throw .invalidTensorEntry(tensor: name, reason: "missing field \"data_offsets\"") }
        guard case .string(let dtypeName) = dtypeValue else {
            throw .invalidTensorEntry(tensor: name, reason: "\"dtype\" must be a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
        let shape = try unsignedArray(shapeValue, tensor: name, field: "shape")
        let offsets = try unsignedArray(offsetsValue, tensor: name, field: "data_offsets")
        guard offsets.count == 2 else {
            throw .invalidTensorEntry(tensor: name, reason: "\"data_offsets\" must hold exactly 2 integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw .reversedOffsets(tensor: name, begin: begin, end: end) }
        // Element count and byte size with checked arithmetic.
        var elements: UInt64 = 1
        for d in shape {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else { throw .overflow(tensor: name) }
            elements = p
        }
        let (bytes, o) = elements.multipliedReportingOverflow(by: UInt64(dtype.byteSize))
        guard !o else { throw .overflow(tensor: name) }
        guard bytes == end - begin else { throw .sizeMismatch(tensor: name, expected: bytes, actual: end - begin) }
        guard end <= UInt64(Int.max), shape.allSatisfy({ $0 <= UInt64(Int.max) }) else { throw .overflow(tensor: name) }
        return TensorInfo(name: name, dtype: dtype, shape: shape.map { Int($0) }, dataOffsets: Int(begin)..<Int(end))
    }

    private static func unsignedArray(_ value: HeaderJSON, tensor: String, field: String) throws(SafetensorsError) -> [UInt64] {
        guard case .array(let elements) = value else {
            throw .invalidTensorEntry(tensor: tensor, reason: "\"\(field)\" must be an array of integers")
        }
        var result: [UInt64] = []
        result.reserveCapacity(elements.count)
        for e in elements {
            guard case .number(let n) = e, n.isInteger else {
                throw .invalidTensorEntry(tensor: tensor, reason: "\"\(field)\" must be an array of integers")
            }
            if n.isNegative && n.magnitude != 0 { throw .negativeValue(tensor: tensor, field: field) }
            guard let m = n.magnitude else { throw .overflow(tensor: tensor) }
            result.append(m)
        }
        return result
    }

    /// Tensors must tile the data section exactly: from 0, no gaps, no overlaps, up to the end.
    /// Sorts the entries by offsets (writers usually list them in that order already) and keeps `positions` in step.
    private static func validateLayout(_ entries: inout HeaderJSONParser.Entries, dataSize: UInt64) throws(SafetensorsError) {
        func before(_ a: TensorInfo, _ b: TensorInfo) -> Bool {
            (a.dataOffsets.lowerBound, a.dataOffsets.upperBound) < (b.dataOffsets.lowerBound, b.dataOffsets.upperBound)
        }
        let tensors = entries.tensors
        if tensors.indices.dropFirst().contains(where: { before(tensors[$0], tensors[$0 - 1]) }) {
            entries.tensors.sort(by: before)
            for (i, info) in entries.tensors.enumerated() { entries.positions[info.name] = i }
        }
        var position: UInt64 = 0
        var previous: String?
        for info in entries.tensors {
            let begin = UInt64(info.dataOffsets.lowerBound)
            let end = UInt64(info.dataOffsets.upperBound)
            if begin < position, let previous { throw .overlappingOffsets(tensor: info.name, other: previous) }
            if begin > position { throw .gapInOffsets(tensor: info.name, expectedBegin: position, actualBegin: begin) }
            guard end <= dataSize else { throw .offsetsOutOfBounds(tensor: info.name, end: end, dataSize: dataSize) }
            position = end
            previous = info.name
        }
        guard position == dataSize else { throw .incompleteBuffer(covered: position, dataSize: dataSize) }
    }
}
