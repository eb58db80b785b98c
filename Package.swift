// swift-tools-version: 6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "LoRAKit",
    platforms: [.macOS(.v14)],
    products: [
        // MARK: - Public API
        .library(name: "LoRAKit", targets: ["LoRAKit"]),
        .library(name: "DiffusionCore", targets: ["DiffusionCore"]),
        .executable(name: "lora-tool", targets: ["lora-tool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: - Implementation details
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),

        // Image codecs: Debian's libpng and libjpeg-turbo, wrapped by a small C shim that turns their
        // longjmp error reporting into return codes.
        .systemLibrary(
            name: "CPNG",
            pkgConfig: "libpng16",
            providers: [.apt(["libpng-dev"])]
        ),
        .systemLibrary(
            name: "CJPEG",
            pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg62-turbo-dev"])]
        ),
        .target(
            name: "CImageCodecs",
            dependencies: ["CPNG", "CJPEG"],
            path: "Sources/CImageCodecs"
        ),

        // SHA-256 for file hashes (Debian's libcrypto; replaces a source build of BoringSSL).
        .systemLibrary(
            name: "CLibcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),

        // gzip decompression for the built-in CLIP vocabulary (Debian's zlib).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        .target(
            name: "CLoRAKitKernels",
            path: "Sources/CLoRAKitKernels"
        ),

        // Compute kernels of the diffusion runtime (portable C; wider instruction sets chosen at run time).
        .target(
            name: "CDiffusionKernels",
            path: "Sources/CDiffusionKernels"
        ),

        // MARK: - Libraries
        .target(
            name: "LoRAKit",
            dependencies: [
                "COpenBLAS",
                "CLoRAKitKernels",
                "CLibcrypto",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DiffusionCore",
            dependencies: ["LoRAKit", "COpenBLAS", "CDiffusionKernels", "CImageCodecs", "CZlib"],
            resources: [
                // CLIP's BPE merges (MIT; notices in the LICENSE file beside it), for single-file checkpoints.
                .copy("Resources/bpe_simple_vocab_16e6.txt.gz"),
                .copy("Resources/bpe_simple_vocab_16e6.LICENSE.txt"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "lora-tool",
            dependencies: [
                "LoRAKit",
                "DiffusionCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Benchmarks (run by hand, recorded in Docs/benchmarks.md)
        .executableTarget(
            name: "lorakit-bench",
            dependencies: ["LoRAKit"],
            path: "Benchmarks/lorakit-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "diffusion-bench",
            dependencies: ["DiffusionCore", "LoRAKit"],
            path: "Benchmarks/diffusion-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ops-bench",
            dependencies: ["DiffusionCore", "LoRAKit", "COpenBLAS"],
            path: "Benchmarks/ops-bench",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "model-bench",
            dependencies: ["DiffusionCore", "LoRAKit"],
            path: "Benchmarks/model-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "text-bench",
            dependencies: ["DiffusionCore", "LoRAKit"],
            path: "Benchmarks/text-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests
        // What several test targets share (the real-world file locator); never part of a product.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LoRAKitTests",
            dependencies: ["LoRAKit", "CLoRAKitKernels", "TestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DiffusionCoreTests",
            dependencies: ["DiffusionCore", "LoRAKit"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LoRAToolTests",
            dependencies: ["LoRAKit", "DiffusionCore", "TestSupport", "lora-tool"],
            swiftSettings: swiftSettings
        ),
    ]
)
