import Foundation

/// What a ``LoRALibrary/scan()`` found: the LoRAs, the files skipped with their reasons, and
/// how much of the index was reused.
public struct LoRALibraryScan: Sendable {
    /// Counts for one scan.
    public struct Statistics: Sendable, Hashable {
        /// `.safetensors` and pickle files found.
        public var filesFound = 0
        /// Files taken from the index unchanged.
        public var reused = 0
        /// Files whose header was read (new or changed).
        public var read = 0
        /// Index records dropped because their file is gone.
        public var dropped = 0
        /// Whether the index was rewritten.
        public var indexWritten = false
        /// Why the index could not be written, when it could not (the scan is still complete).
        public var indexProblem: String?
    }

    /// The library folder.
    public var folder: URL
    /// The LoRAs, sorted by relative path.
    public var entries: [LoRALibraryEntry]
    /// Files that are not usable LoRAs, sorted by relative path.
    public var skipped: [LoRALibrarySkippedFile]
    /// What the scan did.
    public var statistics: Statistics

    /// The LoRAs usable with a model of family `base` (including those whose family is unknown).
    public func entries(for base: BaseModel) -> [LoRALibraryEntry] {
        entries.filter { $0.isCompatible(with: base) }
    }

    /// The LoRA answering to `query`. Tried in order, the first step with any match decides:
    /// 1. the path relative to the folder, with or without `.safetensors` (`styles/anime`);
    /// 2. the file stem, exactly; 3. the file stem, ignoring case;
    /// 4. an alias (`ss_output_name`, `modelspec.title`), ignoring case;
    /// 5. a prefix (6+ hex digits) of a recorded SHA-256 or `sshs_model_hash`.
    /// - Throws: ``LoRALibraryError/ambiguous(query:candidates:)`` listing the candidates when a step
    ///   matches more than one; ``LoRALibraryError/notALoRA(query:path:reason:)`` when the name is a
    ///   skipped file; ``LoRALibraryError/notFound(query:folder:suggestions:)`` otherwise.
    public func entry(named query: String) throws(LoRALibraryError) -> LoRALibraryEntry {
        let q = query.trimmingCharacters(in: .whitespaces)
        let stem = LoRALibraryError.stemPath(q)
        let lower = stem.lowercased()
        let hashPrefix = Self.isHashPrefix(q) ? q.lowercased() : nil
        let steps: [(LoRALibraryEntry) -> Bool] = [
            { LoRALibraryError.stemPath($0.relativePath).lowercased() == lower && stem.contains("/") },
            { $0.name == stem },
            { $0.name.lowercased() == lower },
            { $0.aliases.contains { $0.lowercased() == lower } },
            { entry in hashPrefix.map { entry.hashes?.matches(prefix: $0) == true } ?? false },
        ]
        if !q.isEmpty {
            for step in steps {
                let found = entries.filter(step)
                if found.count == 1 { return found[0] }
                if found.count > 1 { throw .ambiguous(query: q, candidates: found.map(\.relativePath).sorted()) }
            }
            if let s = skipped.first(where: {
                $0.name.lowercased() == lower || LoRALibraryError.stemPath($0.relativePath).lowercased() == lower
            }) {
                throw .notALoRA(query: q, path: s.relativePath, reason: s.reason)
            }
        }
        let suggestions = lower.isEmpty ? [] : Array(entries.filter { e in e.lookupNames.contains { $0.contains(lower) } }
            .map(\.name).prefix(5))
        throw .notFound(query: q, folder: folder.path, suggestions: suggestions)
    }

    /// Whether `query` can be a hash prefix: 6 to 64 hex digits.
    static func isHashPrefix(_ query: String) -> Bool {
        (6...64).contains(query.count) && query.allSatisfy(\.isHexDigit)
    }
}
