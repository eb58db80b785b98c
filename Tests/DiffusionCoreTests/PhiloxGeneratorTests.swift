import Foundation
import Testing
@testable import DiffusionCore

@Suite("PhiloxGenerator")
struct PhiloxGeneratorTests {
    @Test("Philox4x32-10 reproduces the Random123 known-answer vectors", arguments: [
        // kat_vectors: counter (4 words), key (2 words) → output (4 words)
        ([0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000], [0x0000_0000, 0x0000_0000],
         [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8]),
        ([0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], [0xFFFF_FFFF, 0xFFFF_FFFF],
         [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD]),
        ([0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344], [0xA409_3822, 0x299F_31D0],
         [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1]),
    ] as [([UInt32], [UInt32], [UInt32])])
    func knownAnswers(counter: [UInt32], key: [UInt32], expected: [UInt32]) {
        let out = Philox4x32.block(counter: SIMD4(counter[0], counter[1], counter[2], counter[3]), key: SIMD2(key[0], key[1]))
        #expect([out.x, out.y, out.z, out.w] == expected)
    }

    @Test("Seed 0, shape (3, 4) gives the CUDA output A1111 documents, to its float32 precision")
    func a1111DocumentedOutput() throws {
        var g = PhiloxGenerator(seed: 0)
        let t = try g.randn([3, 4])
        let expected: [Float] = [-0.92466259, -0.42534415, -2.6438457, 0.14518388, -0.12086647, -0.57972564,
                                 -0.62285122, -0.32838709, -1.07454231, -0.36314407, -1.67105067, 2.26550497]
        #expect(t.shape == [3, 4])
        // These are torch.randn on an NVIDIA GPU (float32 Box–Muller with CUDA's logf/sinf). A1111's CPU
        // emulation, which this type reproduces bit for bit (see the next test), computes the Box–Muller in
        // double and lands within 2.4e-7 (at most 5 float32 steps) of them.
        for (a, b) in zip(t.scalars, expected) { #expect(abs(a - b) <= 3e-7) }
        #expect(g.offset == 1)
    }

    @Test("Every draw of the A1111 reference computation is reproduced bit for bit")
    func matchesReferenceDraws() throws {
        let file = try PhiloxFixtureFile.load()
        #expect(file.cases.count >= 8)
        for fixture in file.cases {
            var g = PhiloxGenerator(seed: fixture.seedValue)
            for (k, draw) in fixture.draws.enumerated() {
                let t = try g.randn(draw.shape)
                if let problem = randomDrawMismatch(t.scalars, draw) {
                    Issue.record("seed \(fixture.seed), draw \(k) \(draw.shape): \(problem)")
                }
            }
        }
    }

    @Test("Bad shapes throw")
    func badShapes() {
        var g = PhiloxGenerator(seed: 1)
        #expect(throws: RandomSourceError.invalidShape([2, -3])) { try g.randn([2, -3]) }
        #expect(g.offset == 0)
    }
}
