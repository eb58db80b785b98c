// swift-tools-version: 6.0
// Coverage-guided fuzzing of LoRAKit's file readers (libFuzzer + AddressSanitizer).
// A separate package so that `swift build` / `swift test` of LoRAKit never see it.
// Build and run it with `Scripts/fuzz.sh` (see Docs/fuzzing.md).
import PackageDescription

let package = Package(
    name: "LoRAKitFuzz",
    dependencies: [
        .package(name: "LoRAKit", path: ".."),
    ],
    targets: [
        // libFuzzer's driver, called from the executable's entry point (SwiftPM names the entry point itself,
        // so libFuzzer's own `main` cannot be used).
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "lorakit-fuzz",
            dependencies: ["CFuzzerDriver", .product(name: "LoRAKit", package: "LoRAKit")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
