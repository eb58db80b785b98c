import Foundation

extension LoRAModule: WeightPatch {}

extension MergeSource {
    /// A LoRA file as a merge source: every module becomes a patch, every key the
    /// parser did not understand is reported unused.
    public init(lora: LoRAFile, name: String? = nil, strength: Float,
                unetStrength: Float? = nil, textEncoderStrength: Float? = nil) {
        let displayName = name ?? lora.file.path.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "LoRA"
        let unused = lora.unrecognized.flatMap { group in
            group.keys.map { MergeReport.UnusedKey(key: $0, reason: group.reason) }
        }
        self.init(name: displayName, patches: lora.modules, unusedKeys: unused, baseModel: lora.baseModel.detected,
                  strength: strength, unetStrength: unetStrength, textEncoderStrength: textEncoderStrength,
                  sourceFile: lora.file.path.map(URL.init(fileURLWithPath:)))
    }
}
