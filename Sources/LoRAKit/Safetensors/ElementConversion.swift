import CLoRAKitKernels

/// Conversions between the format's element types and `Float`.
///
/// Decoding matches torch's `.float()`: F16, BF16 and both F8 kinds widen
/// exactly (NaN, infinities and subnormals kept); wider types round to nearest,
/// ties to even. Encoding from `Float` rounds to nearest, ties to even, as
/// torch's `.to(dtype)` does.
public enum ElementConversion {
    /// Decodes little-endian elements of `dtype` from `raw` into `out`
    /// (`out.count` elements are written; `raw` must hold them).
    public static func decode(_ raw: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>) {
        let n = out.count
        precondition(raw.count >= n * dtype.byteSize, "buffer too small for \(n) \(dtype.rawValue) elements")
        switch dtype {
        case .f32:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        case .f16:
            guard n > 0 else { return }
            lorakit_f16_to_f32(raw.baseAddress!.assumingMemoryBound(to: UInt16.self), out.baseAddress!, n)
        case .bf16:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) << 16) }
        case .f64:
            for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
        case .f8E5M2:
            for i in 0..<n { out[i] = Float(Float16(bitPattern: UInt16(raw[i]) << 8)) }
        case .f8E4M3:
            for i in 0..<n { out[i] = decodeE4M3FN(raw[i]) }
        case .bool, .u8:
            for i in 0..<n { out[i] = Float(raw[i]) }
        case .i8:
            for i in 0..<n { out[i] = Float(Int8(bitPattern: raw[i])) }
        case .i16:
            for i in 0..<n { out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))) }
        case .u16:
            for i in 0..<n { out[i] = Float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
        case .i32:
            for i in 0..<n { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
        case .u32:
            for i in 0..<n { out[i] = Float(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        case .i64:
            for i in 0..<n { out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))) }
        case .u64:
            for i in 0..<n { out[i] = Float(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) }
        }
    }

    /// float8_e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities,
    /// S.1111.111 is NaN; exponent 0 is subnormal.
    @inline(__always)
    static func decodeE4M3FN(_ byte: UInt8) -> Float {
        let sign: Float = byte & 0x80 != 0 ? -1 : 1
        let exponent = Int((byte >> 3) & 0x0F)
        let mantissa = Float(byte & 0x07)
        if exponent == 0x0F && byte & 0x07 == 0x07 { return sign * .nan }
        if exponent == 0 { return sign * mantissa * 0x1p-9 }
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }

    /// The encodings of `Float` this library writes.
    public static func canEncode(to dtype: DType) -> Bool {
        switch dtype {
        case .f32, .f16, .bf16, .f64: true
        default: false
        }
    }

    /// Encodes `values` as little-endian `dtype` elements into `out`
    /// (`values.count * dtype.byteSize` bytes). Only ``canEncode(to:)`` types.
    public static func encode(_ values: UnsafeBufferPointer<Float>, as dtype: DType, into out: UnsafeMutableRawBufferPointer) {
        let n = values.count
        precondition(out.count >= n * dtype.byteSize, "buffer too small")
        switch dtype {
        case .f32:
            for i in 0..<n { out.storeBytes(of: values[i].bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        case .f16:
            guard n > 0 else { return }
            lorakit_f32_to_f16(values.baseAddress!, out.baseAddress!.assumingMemoryBound(to: UInt16.self), n)
        case .bf16:
            for i in 0..<n { out.storeBytes(of: bfloat16Bits(values[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        case .f64:
            for i in 0..<n { out.storeBytes(of: Double(values[i]).bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self) }
        default:
            preconditionFailure("encoding Float as \(dtype.rawValue) is not supported; check canEncode(to:) first")
        }
    }

    /// Float → bfloat16 with round-to-nearest-even; NaN stays a quiet NaN (as torch does).
    @inline(__always)
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 | (value.sign == .minus ? 0x8000 : 0) }
        let bits = value.bitPattern
        let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}
