import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// Every operation against torch's float32 output on odd shapes, on the portable and the AVX2 kernel paths.
@Suite("Ops match torch", .serialized)
struct OpsFixtureTests {
    private func activation(_ name: Any?) throws -> Activation {
        let raw = try #require(name as? String)
        return try #require(Activation(rawValue: raw))
    }

    @Test("linear: F32, F16 and BF16 weights, bias, fused activation", arguments: [
        "linear_none", "linear_silu", "linear_geluErf", "linear_nobias", "linear_f16", "linear_bf16",
    ])
    func linear(caseName: String) throws {
        let p = try OpsFixtures.params(caseName)
        let x = try OpsFixtures.tensor(caseName, "x"), expected = try OpsFixtures.tensor(caseName, "out")
        let bias = OpsFixtures.has(caseName, "bias") ? try OpsFixtures.tensor(caseName, "bias") : nil
        let view = try OpsFixtures.view(caseName, "weight")
        let act = try activation(p["activation"])
        let workspace = Workspace()
        try KernelPaths.forEach { level in
            for loading in [WeightLoading.keepHalfPrecision, .widenAtLoad] {
                let w = try WeightMatrix(view, loading: loading)
                let y = try Ops.linear(x, weight: w, bias: bias, activation: act, workspace: workspace)
                expectClose(y, expected, "\(caseName) \(level) \(loading)")
            }
        }
    }

    @Test("activations element-wise", arguments: ["act_silu", "act_geluErf", "act_geluTanh", "act_quickGELU"])
    func activations(caseName: String) throws {
        let act = try activation(try OpsFixtures.params(caseName)["activation"])
        let x = try OpsFixtures.tensor(caseName, "x"), expected = try OpsFixtures.tensor(caseName, "out")
        try KernelPaths.forEach { level in
            expectClose(try Ops.activation(x, act), expected, "\(caseName) \(level)")
            var inPlace = x
            try Ops.applyActivation(act, to: &inPlace)
            expectClose(inPlace, expected, "\(caseName) in place \(level)")
        }
    }

    @Test("GEGLU splits value and gate on the last axis", arguments: ["geglu", "geglu_tanh"])
    func geglu(caseName: String) throws {
        let gate = try activation(try OpsFixtures.params(caseName)["gate"])
        let x = try OpsFixtures.tensor(caseName, "x"), expected = try OpsFixtures.tensor(caseName, "out")
        try KernelPaths.forEach { level in
            expectClose(try Ops.geglu(x, gate: gate), expected, "\(caseName) \(level)")
        }
    }

    @Test("GroupNorm, with fused SiLU and without affine parameters, and on a map whose mean dwarfs its spread",
          arguments: ["groupnorm", "groupnorm_silu", "groupnorm_g3", "groupnorm_offset_silu"])
    func groupNorm(caseName: String) throws {
        let p = try OpsFixtures.params(caseName)
        let x = try OpsFixtures.tensor(caseName, "x"), expected = try OpsFixtures.tensor(caseName, "out")
        let w = OpsFixtures.has(caseName, "weight") ? try OpsFixtures.tensor(caseName, "weight") : nil
        let b = OpsFixtures.has(caseName, "bias") ? try OpsFixtures.tensor(caseName, "bias") : nil
        let groups = try #require(p["groups"] as? Int), eps = Float(try #require(p["eps"] as? Double))
        let act = try activation(p["activation"])
        try KernelPaths.forEach { level in
            let y = try Ops.groupNorm(x, groups: groups, weight: w, bias: b, eps: eps, activation: act)
            expectClose(y, expected, "\(caseName) \(level)")
        }
    }

    @Test("LayerNorm over the last axis")
    func layerNorm() throws {
        let x = try OpsFixtures.tensor("layernorm", "x"), expected = try OpsFixtures.tensor("layernorm", "out")
        let w = try OpsFixtures.tensor("layernorm", "weight"), b = try OpsFixtures.tensor("layernorm", "bias")
        try KernelPaths.forEach { level in
            expectClose(try Ops.layerNorm(x, weight: w, bias: b, eps: 1e-5), expected, "layernorm \(level)")
        }
    }

    @Test("softmax over the last axis with a scale")
    func softmax() throws {
        let x = try OpsFixtures.tensor("softmax", "x"), expected = try OpsFixtures.tensor("softmax", "out")
        let scale = Float(try #require(try OpsFixtures.params("softmax")["scale"] as? Double))
        try KernelPaths.forEach { level in
            expectClose(try Ops.softmax(x, scale: scale), expected, "softmax \(level)")
        }
    }

    @Test("attention: self, cross, causal, several query tiles, keys streamed in blocks", arguments: [
        "attention_self", "attention_cross", "attention_causal", "attention_causal_tiles", "attention_long_keys",
    ])
    func attention(caseName: String) throws {
        let p = try OpsFixtures.params(caseName)
        let q = try OpsFixtures.tensor(caseName, "query"), k = try OpsFixtures.tensor(caseName, "key")
        let v = try OpsFixtures.tensor(caseName, "value"), expected = try OpsFixtures.tensor(caseName, "out")
        let options = AttentionOptions(heads: try #require(p["heads"] as? Int), causal: try #require(p["causal"] as? Bool),
                                       scale: (p["scale"] as? Double).map { Float($0) })
        let workspace = Workspace()
        // The fused kernel's AVX-512 softmax step too, where the processor has it.
        try KernelPaths.forEach { level in
            let y = try Ops.attention(query: q, key: k, value: v, options: options, workspace: workspace)
            expectClose(y, expected, "\(caseName) \(level)")
        }
        // The unbatched form ([T, H·D]) gives the first batch element's rows.
        let q0 = try q.slice(axis: 0, 0..<1).reshaped(Array(q.shape.dropFirst()))
        let k0 = try k.slice(axis: 0, 0..<1).reshaped(Array(k.shape.dropFirst()))
        let v0 = try v.slice(axis: 0, 0..<1).reshaped(Array(v.shape.dropFirst()))
        let y0 = try Ops.attention(query: q0, key: k0, value: v0, options: options)
        expectClose(y0, try expected.slice(axis: 0, 0..<1).reshaped(Array(expected.shape.dropFirst())), "\(caseName) unbatched")
    }

    @Test("nearest ×2 upsampling, channel concat, transpose, scaled residual add")
    func layout() throws {
        try KernelPaths.forEach { level in
            let x = try OpsFixtures.tensor("upsample", "x")
            #expect(try Ops.upsampleNearest2x(x) == OpsFixtures.tensor("upsample", "out"), "upsample \(level)")
            let a = try OpsFixtures.tensor("concat", "a"), b = try OpsFixtures.tensor("concat", "b")
            #expect(try Ops.concatChannels([a, b]) == OpsFixtures.tensor("concat", "out"), "concat \(level)")
            let t = try OpsFixtures.tensor("transpose", "x")
            #expect(try Ops.transposeLastTwo(t) == OpsFixtures.tensor("transpose", "out"), "transpose \(level)")
            let scale = Float(try #require(try OpsFixtures.params("add_scaled")["scale"] as? Double))
            let r1 = try OpsFixtures.tensor("add_scaled", "a"), r2 = try OpsFixtures.tensor("add_scaled", "b")
            expectClose(try Ops.add(r1, r2, scale: scale), try OpsFixtures.tensor("add_scaled", "out"), "add \(level)")
        }
    }

    @Test("sinusoidal timestep embedding matches diffusers' get_timestep_embedding", arguments: ["timestep_320", "timestep_33"])
    func timestepEmbedding(caseName: String) throws {
        let p = try OpsFixtures.params(caseName)
        let t = try OpsFixtures.tensor(caseName, "t").scalars
        let y = try Ops.timestepEmbedding(t, dim: try #require(p["dim"] as? Int), flipSinToCos: try #require(p["flip"] as? Bool),
                                          downscaleFreqShift: Float(try #require(p["shift"] as? Double)))
        // torch's vectorised exp is within 1 ulp, not correctly rounded: at t ≈ 1000 one ulp of a frequency moves
        // the float32 argument (≈ 890) by one of its own ulps (6.1e-5), and sin/cos with it.
        expectClose(y, try OpsFixtures.tensor(caseName, "out"), relative: 1e-4, "\(caseName)")
    }
}
