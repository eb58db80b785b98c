import Foundation
import Testing
@testable import LoRAKit

/// OpenBLAS's thread count has one owner: leases, the largest count winning while any is held.
@Suite("BLAS thread-count owner")
struct BLASThreadsTests {
    @Test("a narrower lease never lowers a wider one, nested or from another thread")
    func widestWins() throws {
        BLASThreads.withThreads(3) {
            #expect(BLASThreads.current == 3)
            BLASThreads.withThreads(1) {
                #expect(BLASThreads.current == 3)
            }
            #expect(BLASThreads.current == 3)

            // A "merge" on other threads taking and releasing single-thread leases many times.
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                for _ in 0..<200 { BLASThreads.withThreads(1) { _ = BLASThreads.current } }
                done.signal()
            }
            var lowest = Int.max
            for _ in 0..<200 { lowest = min(lowest, BLASThreads.current) }
            done.wait()
            #expect(lowest == 3)
            #expect(BLASThreads.current == 3)
        }
    }

    @Test("a lease's count applies while it is the widest, and errors pass through")
    func leaseScope() throws {
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try BLASThreads.withThreads(2) { () throws(Boom) in
                #expect(BLASThreads.current >= 2)
                throw Boom()
            }
        }
        let value = BLASThreads.withThreads(1) { 42 }
        #expect(value == 42)
    }
}
