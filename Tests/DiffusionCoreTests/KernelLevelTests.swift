import CDiffusionKernels
import Foundation
import Testing
@testable import DiffusionCore

/// The instruction-set level of the C kernels: the cap tests set, and the kernels that take a level from their
/// caller, which must never run an instruction the processor lacks whatever level they are given.
@Suite("Kernel instruction-set levels")
struct KernelLevelTests {
    static let best = Int32(KernelLevel.best.rawValue)

    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
    }

    /// A 64-byte-aligned buffer of `count` floats, zeroed.
    static func aligned(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        let p = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        return UnsafeMutableBufferPointer(start: p, count: count)
    }

    @Test("a cap above the processor's best is not honoured; a cap below it is")
    func cap() {
        KernelPaths.forEach(levels: [KernelLevel.best]) { _ in
            #expect(dk_cpu_best_level() == Self.best)
            for cap in Int32(0)...Self.best + 2 {
                dk_cpu_set_max_level(cap)
                #expect(dk_cpu_level() == min(cap, Self.best), "cap \(cap)")
            }
            dk_cpu_set_max_level(-1)
            #expect(dk_cpu_level() == Self.best)
        }
    }

    @Test("the cap changed on one thread while others read it: every read is a level the processor has")
    func capChangedConcurrently() {
        // Under `swift test --sanitize=thread` this also checks that the shared state is free of data races.
        KernelPaths.forEach(levels: [KernelLevel.best]) { _ in
            let bad = LockedCounter()
            DispatchQueue.concurrentPerform(iterations: 3) { worker in
                for i in 0..<20_000 {
                    if worker == 0 {
                        dk_cpu_set_max_level(Int32(i % 4) - 1)
                    } else {
                        let level = dk_cpu_level()
                        if level < 0 || level > Self.best { bad.add() }
                    }
                }
            }
            #expect(bad.value == 0)
        }
    }

    @Test("attention tiles given a level above the processor's compute at its best")
    func attentionTileAboveBest() {
        let (rows, keys, d, dv) = (19, 37, 24, 40)
        let q = Self.random(rows * d, seed: 1), k = Self.random(keys * d, seed: 2), v = Self.random(keys * dv, seed: 3)
        let packed = Self.aligned(dk_attention_packed_count(keys, d, dv))
        let scratch = Self.aligned(dk_attention_scratch_count(d, dv))
        defer { packed.deallocate(); scratch.deallocate() }
        dk_attention_pack(k, d, v, dv, keys, d, dv, packed.baseAddress!)
        func run(_ level: Int32) -> (Int32, [Float]) {
            var o = [Float](repeating: .nan, count: rows * dv)
            let status = dk_attention_tile(q, d, packed.baseAddress!, &o, dv, rows, keys, d, dv, 0.2, 1, 3,
                                           scratch.baseAddress!, level)
            return (status, o)
        }
        let want = run(Self.best)
        for level in [Self.best + 1, 2, 7] {
            let got = run(level)
            #expect(got.0 == want.0, "status at level \(level)")
            #expect(got.1.map(\.bitPattern) == want.1.map(\.bitPattern), "level \(level)")
        }
    }

    @Test("Winograd transforms and the small-column product given a level above the processor's compute at its best")
    func winogradAboveBest() {
        let (cin, h, w, cout) = (3, 9, 11, 5)
        let tilesY = (h + 3) / 4, tilesX = (w + 3) / 4, tiles = tilesY * tilesX, planes = Int(DK_WINOGRAD43_PLANES)
        let x = Self.random(cin * h * w, seed: 4), weight = Self.random(cout * cin * 9, seed: 5)
        func run(_ level: Int32) -> [Float] {
            var u = [Float](repeating: 0, count: planes * cout * cin), v = [Float](repeating: 0, count: planes * cin * tiles)
            var m = [Float](repeating: 0, count: planes * cout * tiles), y = [Float](repeating: 0, count: cout * (h - 2) * (w - 2))
            dk_winograd43_weights(weight, Int32(DK_CONV_WEIGHT_F32), Int32(cin), 0, Int32(cout), &u, cout * cin, level)
            dk_winograd43_input(x, Int32(cin), Int32(h), Int32(w), 0, 0, Int32(tilesY), Int32(tilesX), 0, Int32(tiles), 0,
                                Int32(cin), &v, cin * tiles, level)
            for xi in 0..<planes {
                u.withUnsafeBufferPointer { ub in v.withUnsafeBufferPointer { vb in m.withUnsafeMutableBufferPointer { mb in
                    let a = ub.baseAddress! + xi * cout * cin, b = vb.baseAddress! + xi * cin * tiles
                    let c = mb.baseAddress! + xi * cout * tiles
                    if dk_gemm_small_n(Int32(cout), Int32(tiles), Int32(cin), a, cin, b, tiles, c, tiles, level) == 0 {
                        for r in 0..<cout { for col in 0..<tiles {
                            c[r * tiles + col] = (0..<cin).reduce(Float(0)) { $0 + a[r * cin + $1] * b[$1 * tiles + col] }
                        } }
                    }
                } } }
            }
            dk_winograd43_output(m, cout * tiles, 0, Int32(cout), nil, &y, Int32(cout), Int32(h - 2), Int32(w - 2),
                                 Int32(tilesY), Int32(tilesX), 0, Int32(tiles), 0, level)
            return y
        }
        let want = run(Self.best)
        for level in [Self.best + 1, 2, 7] {
            #expect(run(level).map(\.bitPattern) == want.map(\.bitPattern), "level \(level)")
        }
    }
}

/// A counter several threads add to.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
