import Foundation
import Testing
@testable import LoRAKit

/// OpenBLAS's thread count has one owner, `BLASThreads`. The rule is checked as a function (other tests of
/// the process hold leases and regions concurrently, so the live count is only checked where it cannot race).
@Suite("BLAS thread-count owner")
struct BLASThreadsTests {
    @Test("a narrower lease never lowers a wider one; a parallel region runs one thread; default, then start-up")
    func rule() {
        // A generation (4 threads) and a merge (1 thread) at once: the generation keeps 4.
        #expect(BLASThreads.rule(leases: [4, 1], regions: 0, defaultCount: 2, startup: 8) == 4)
        #expect(BLASThreads.rule(leases: [1], regions: 0, defaultCount: 2, startup: 8) == 1)
        #expect(BLASThreads.rule(leases: [], regions: 0, defaultCount: 2, startup: 8) == 2)
        #expect(BLASThreads.rule(leases: [], regions: 0, defaultCount: nil, startup: 8) == 8)
        #expect(BLASThreads.rule(leases: [4], regions: 1, defaultCount: nil, startup: 8) == 1)
    }

    @Test("leases and regions return their body's value and pass errors through; OpenBLAS follows the rule")
    func scopes() throws {
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try BLASThreads.withThreads(2) { () throws(Boom) in throw Boom() }
        }
        #expect(BLASThreads.withThreads(1) { 42 } == 42)
        BLASThreads.withThreads(3) {
            // Inside this lease OpenBLAS uses 3 threads or more, or 1 while some region runs.
            let now = BLASThreads.current
            #expect(now >= 3 || now == 1)
            BLASThreads.withParallelRegion { #expect(BLASThreads.current == 1) }
        }
    }
}
