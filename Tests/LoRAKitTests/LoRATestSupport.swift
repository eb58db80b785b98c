import Foundation
import Testing
@testable import LoRAKit

/// A LoRA fixture and its expected-weights companion (see Scripts/fixtures/lora_formats.py).
struct LoRAFixture {
    let lora: LoRAFile
    let expected: SafetensorsFile

    init(_ name: String) throws {
        lora = try LoRAFile(contentsOf: Fixtures.url("\(name).safetensors", subdirectory: "lora"))
        expected = try SafetensorsFile(contentsOf: Fixtures.url("\(name).expected.safetensors", subdirectory: "lora"))
    }

    /// Every tested parameter: target, whether it is the bias, base and expected tensors.
    ///
    /// Every `expected.` tensor of the expected file is a case; a malformed name or a missing `base.`
    /// partner is a failure, never a silently dropped case. (`base.` tensors without an `expected.` partner
    /// are parameters the adapter leaves alone, such as a DoRA layer's bias.)
    func cases(sourceLocation: SourceLocation = #_sourceLocation) throws -> [(target: ModuleTarget, isBias: Bool, base: TensorView, expected: TensorView)] {
        try expected.tensors.filter { $0.name.hasPrefix("expected.") }.map { info in
            let name = String(info.name.dropFirst("expected.".count))
            let isBias = name.hasSuffix(".bias")
            #expect(isBias || name.hasSuffix(".weight"), "\(info.name): neither .weight nor .bias", sourceLocation: sourceLocation)
            let stem = String(name.dropLast(isBias ? ".bias".count : ".weight".count))
            let dot = try #require(stem.firstIndex(of: "."), "\(info.name): no component", sourceLocation: sourceLocation)
            let component = try #require(ModelComponent(rawValue: String(stem[..<dot])), "\(info.name): unknown component", sourceLocation: sourceLocation)
            let base = try expected.tensor(named: "base." + name)
            let want = expected.tensor(info)
            return (ModuleTarget(component: component, path: String(stem[stem.index(after: dot)...])), isBias, base, want)
        }
    }

    /// Applies the file's module for each case at strength 1 and returns the largest abs error.
    /// Records an issue (index and both values) for any element over `tolerance`.
    /// - Parameter count: how many parameters the fixture script wrote for this file; a different number
    ///   (a missing or truncated fixture) fails instead of testing less.
    @discardableResult
    func verify(cases count: Int, tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) throws -> Float {
        var worst: Float = 0
        let cases = try cases(sourceLocation: sourceLocation)
        #expect(cases.count == count, "expected \(count) tested parameters, the fixture holds \(cases.count)", sourceLocation: sourceLocation)
        for c in cases {
            guard let module = lora.module(for: c.target) else {
                Issue.record("no module for \(c.target); unrecognized: \(lora.unrecognized.map(\.reason))", sourceLocation: sourceLocation)
                continue
            }
            var w = c.base.floats()
            if c.isBias {
                try module.apply(toBias: &w, shape: c.base.shape, strength: 1)
            } else {
                try module.apply(toWeight: &w, shape: c.base.shape, strength: 1)
            }
            let want = c.expected.floats()
            for i in want.indices {
                let err = abs(w[i] - want[i])
                worst = max(worst, err)
                if err > tolerance {
                    Issue.record("\(c.target)\(c.isBias ? ".bias" : "") index \(i): got \(w[i]), expected \(want[i])", sourceLocation: sourceLocation)
                    break
                }
            }
        }
        return worst
    }
}
