import Foundation

/// A trigger word and where it came from.
public struct TriggerWord: Sendable, Hashable {
    /// The word or phrase.
    public var text: String
    /// How often it was tagged in the training set (`ss_tag_frequency`), when known.
    public var count: Int?
    /// `ss_tag_frequency` or `modelspec.trigger_phrase`.
    public var source: String
}

/// One training-metadata field worth showing.
public struct MetadataField: Sendable, Hashable {
    /// The header key.
    public var key: String
    /// A short human label.
    public var label: String
    /// The value as stored.
    public var value: String
}

extension LoRAFile {
    /// Known training fields (kohya `ss_*`, `modelspec.*`), in display order.
    static let summaryFields: [(key: String, label: String)] = [
        ("modelspec.title", "Title"), ("modelspec.author", "Author"), ("modelspec.description", "Description"),
        ("modelspec.date", "Date"), ("ss_output_name", "Output name"), ("ss_sd_model_name", "Trained on"),
        ("ss_base_model_version", "Base model version"), ("ss_network_module", "Network module"),
        ("ss_network_dim", "Network dim"), ("ss_network_alpha", "Network alpha"), ("ss_network_args", "Network args"),
        ("ss_training_started_at", "Started at"), ("ss_training_finished_at", "Finished at"),
        ("ss_num_train_images", "Train images"), ("ss_num_epochs", "Epochs"), ("ss_max_train_steps", "Max steps"),
        ("ss_steps", "Steps"), ("ss_resolution", "Resolution"), ("ss_learning_rate", "Learning rate"),
        ("ss_unet_lr", "UNet LR"), ("ss_text_encoder_lr", "Text encoder LR"), ("ss_optimizer", "Optimizer"),
        ("ss_lr_scheduler", "LR scheduler"), ("ss_mixed_precision", "Mixed precision"),
        ("ss_clip_skip", "Clip skip"), ("ss_seed", "Seed"), ("ss_noise_offset", "Noise offset"),
        ("sshs_model_hash", "sshs_model_hash (stored)"), ("sshs_legacy_hash", "sshs_legacy_hash (stored)"),
    ]

    /// The training metadata worth showing, in a fixed order (empty when the file has none).
    public var trainingSummary: [MetadataField] {
        let md = file.metadata ?? [:]
        return Self.summaryFields.compactMap { field in
            guard let v = md[field.key], !v.isEmpty, v != "None" else { return nil }
            return MetadataField(key: field.key, label: field.label, value: v)
        }
    }

    /// Trigger words: `modelspec.trigger_phrase` (comma-separated), then the most frequent
    /// tags of `ss_tag_frequency` summed over datasets, most frequent first.
    /// - Parameter limit: how many `ss_tag_frequency` tags to return.
    public func triggerWords(limit: Int = 10) -> [TriggerWord] {
        let md = file.metadata ?? [:]
        var out: [TriggerWord] = []
        if let phrase = md["modelspec.trigger_phrase"] {
            for part in phrase.split(separator: ",") {
                let t = part.trimmingCharacters(in: .whitespaces)
                if !t.isEmpty { out.append(TriggerWord(text: t, count: nil, source: "modelspec.trigger_phrase")) }
            }
        }
        if let raw = md["ss_tag_frequency"],
           let object = try? JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any] {
            var totals: [String: Int] = [:]
            for (_, dataset) in object {
                for (tag, count) in (dataset as? [String: Any]) ?? [:] {
                    let t = tag.trimmingCharacters(in: .whitespaces)
                    guard !t.isEmpty else { continue }
                    totals[t, default: 0] += (count as? NSNumber)?.intValue ?? 0
                }
            }
            // A tag that repeats the trigger phrase adds nothing but its count: give the phrase that count.
            for i in out.indices {
                if let count = totals.removeValue(forKey: out[i].text) { out[i].count = count }
            }
            let top = totals.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(max(0, limit))
            out += top.map { TriggerWord(text: $0.key, count: $0.value, source: "ss_tag_frequency") }
        }
        return out
    }
}
