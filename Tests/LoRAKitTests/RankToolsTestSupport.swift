import Foundation
import Testing
@testable import LoRAKit

enum RankFixtures {
    static func url(_ name: String) -> URL { Fixtures.url(name, subdirectory: "ranktools") }
    static func mergeURL(_ relative: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/merge/" + relative, withExtension: nil)!
    }
    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(name))) as! [String: Any]
    }

    /// The effective ΔW (α/r)·flat(up)·flat(down) of the kohya module `stem` in `file`, with its rank and alpha.
    static func effectiveDelta(_ file: SafetensorsFile, stem: String) throws -> (delta: [Float], rank: Int, alpha: Float) {
        let up = try file.tensor(named: stem + ".lora_up.weight"), down = try file.tensor(named: stem + ".lora_down.weight")
        let rank = down.shape[0]
        let alpha = (try? file.tensor(named: stem + ".alpha").floats().first).flatMap { $0 } ?? Float(rank)
        let rows = up.shape[0], cols = down.elementCount / max(rank, 1)
        let delta = try BLAS.product(m: rows, n: cols, k: rank, alpha: alpha / Float(rank), up.floats(), down.floats())
        return (delta, rank, alpha)
    }

    /// Stems of the kohya modules in a file (from its down keys).
    static func stems(_ file: SafetensorsFile) -> [String] {
        file.names.filter { $0.hasSuffix(".lora_down.weight") }.map { String($0.dropLast(".lora_down.weight".count)) }.sorted()
    }

    /// max |a − b| / max(max |b|, tiny).
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        var diff: Float = 0, scale: Float = 1e-12
        for i in a.indices {
            diff = max(diff, abs(a[i] - b[i]))
            scale = max(scale, abs(b[i]))
        }
        return diff / scale
    }
}
