/// The family check of the merges that combine LoRAs into one (rank concatenation and SVD merge): LoRAs made
/// for different model families are refused unless the caller allows it. Each merge throws its own error.
enum LoRAFamilyCheck {
    /// The LoRAs' names and families when they were made for more than one family and that is not allowed;
    /// nil when the merge may go on.
    static func mismatch(_ sources: [(lora: LoRAFile, source: MergeSource)],
                         allowMismatch: Bool) -> (loras: [String], families: [BaseModel?])? {
        let families = sources.map { $0.lora.baseModel.detected }
        guard !allowMismatch, Set(families.compactMap { $0 }).count > 1 else { return nil }
        return (sources.map(\.source.name), families)
    }

    /// The message of a refused mix: each LoRA with its family.
    static func describe(loras: [String], families: [BaseModel?]) -> String {
        "the LoRAs were made for different model families: "
            + zip(loras, families).map { "\($0) (\($1?.displayName ?? "family unknown"))" }.joined(separator: ", ")
    }
}
