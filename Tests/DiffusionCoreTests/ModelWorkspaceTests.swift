import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// A model's forward pass reuses its workspace: repeated calls give the same result and, once the first calls
/// have sized the pool, allocate no new buffers.
@Suite("Model workspace reuse")
struct ModelWorkspaceTests {
    @Test("Repeated UNet calls agree and stop allocating")
    func unetReusesBuffers() throws {
        try KernelPaths.pinned {
            let c = try ModelFixtureTests.Case("unet_sd1")
            let unet = try UNetModel(configurationJSON: c.config, weightFiles: [c.weights], description: "unet_sd1")
            let sample = try c.tensor("sample"), context = try c.tensor("encoder_hidden_states")
            let timestep = try c.tensor("timestep_t_pair")
            let first = try unet(sample: sample, timestep: timestep, context: context)
            _ = try unet(sample: sample, timestep: timestep, context: context)
            let settled = unet.workspace.allocationCount
            let third = try unet(sample: sample, timestep: timestep, context: context)
            #expect(unet.workspace.allocationCount == settled, "a settled forward pass allocates nothing new")
            // The level is held still (each path sizes its scratch in its own way), but the comparison stays
            // within the paths' agreement rather than bit for bit.
            let a = first.scalars, b = third.scalars
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * (b.map(abs).max() ?? 0), "repeated calls differ by \(worst)")
            ModelFixtureTests.expectClose(third, try c.tensor("out_t_pair"), "unet_sd1 t_pair (third call)")
        }
    }
}
