import ArgumentParser

@main
struct LoRATool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora-tool",
        abstract: "Inspect, merge and use LoRA files for Stable Diffusion models.",
        subcommands: [
            Inspect.self,
        ]
    )
}
