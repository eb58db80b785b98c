import Foundation
import LoRAKit
import Testing
@testable import DiffusionCore

/// A model's forward pass reuses its workspace: repeated calls give the same numbers and, once the first calls
/// have sized the pool, allocate no new buffers.
@Suite("Model workspace reuse")
struct ModelWorkspaceTests {
    @Test("Repeated UNet calls agree and stop allocating")
    func unetReusesBuffers() throws {
        let c = try ModelFixtureTests.Case("unet_sd1")
        let unet = try UNetModel(configurationJSON: c.config, weightFiles: [c.weights], description: "unet_sd1")
        let sample = try c.tensor("sample"), context = try c.tensor("encoder_hidden_states")
        let timestep = try c.tensor("timestep_t_pair")
        let first = try unet(sample: sample, timestep: timestep, context: context)
        _ = try unet(sample: sample, timestep: timestep, context: context)
        let settled = unet.workspace.allocationCount
        let third = try unet(sample: sample, timestep: timestep, context: context)
        #expect(unet.workspace.allocationCount == settled, "a settled forward pass allocates nothing new")
        #expect(first.scalars == third.scalars)
        ModelFixtureTests.expectClose(third, try c.tensor("out_t_pair"), "unet_sd1 t_pair (third call)")
    }
}
