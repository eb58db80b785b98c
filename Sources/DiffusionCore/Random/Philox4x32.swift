/// The Philox4x32 counter-based generator of Salmon et al. ("Parallel random numbers: as easy as 1, 2, 3",
/// the Random123 library), which CUDA's default generator (curand's Philox4_32_10) is built on.
public enum Philox4x32 {
    /// The round multipliers.
    static let multipliers: (UInt32, UInt32) = (0xD251_1F53, 0xCD9E_8D57)
    /// The Weyl key increments (golden ratio, √3 − 1).
    static let keyIncrements: (UInt32, UInt32) = (0x9E37_79B9, 0xBB67_AE85)

    /// The output block for one counter under one key after `rounds` rounds (10 for Philox4x32-10).
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>, rounds: Int = 10) -> SIMD4<UInt32> {
        var c = counter
        var k = key
        for round in 0..<max(rounds, 0) {
            if round > 0 {
                k.x &+= keyIncrements.0
                k.y &+= keyIncrements.1
            }
            let p0 = UInt64(c.x) &* UInt64(multipliers.0)
            let p1 = UInt64(c.z) &* UInt64(multipliers.1)
            c = SIMD4(
                UInt32(truncatingIfNeeded: p1 >> 32) ^ c.y ^ k.x,
                UInt32(truncatingIfNeeded: p1),
                UInt32(truncatingIfNeeded: p0 >> 32) ^ c.w ^ k.y,
                UInt32(truncatingIfNeeded: p0)
            )
        }
        return c
    }
}
