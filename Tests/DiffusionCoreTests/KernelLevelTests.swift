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
}

/// A counter several threads add to.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
