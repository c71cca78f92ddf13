// swift-tools-version:6.0
import PackageDescription

// Modules follow the data flow, and each lists exactly the modules it imports:
// Tokenizer → Corpus → Masking ───────────────────→ Training ───────────┐
// TensorKernels → Model → Checkpoint, Optimization → Training, Classification → mlm-adapt (CLI)
// mlm-bench measures the layers below Training.
let package = Package(
    name: "mlm-adapt",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mlm-adapt", targets: ["mlm-adapt"]),
        .executable(name: "mlm-bench", targets: ["mlm-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        .target(name: "Tokenizer"),
        .target(name: "Corpus", dependencies: ["Tokenizer", "CZlib"]),
        .target(name: "Masking", dependencies: ["Corpus", "Tokenizer"]),
        .target(name: "CTensorKernels"),
        .target(name: "TensorKernels", dependencies: ["CBLAS", "CTensorKernels"]),
        .target(name: "Model", dependencies: ["TensorKernels"]),
        .target(name: "Checkpoint", dependencies: ["Model", "TensorKernels", "Tokenizer", "CZlib"]),
        .target(name: "Optimization", dependencies: ["Model"]),
        .target(
            name: "Training",
            dependencies: ["Checkpoint", "Corpus", "Masking", "Model", "Optimization", "TensorKernels", "Tokenizer"]),
        .target(
            name: "Classification", dependencies: ["Checkpoint", "Model", "Optimization", "TensorKernels", "Tokenizer"]),
        .executableTarget(
            name: "mlm-adapt",
            dependencies: [
                "Checkpoint", "Classification", "Masking", "Model", "Optimization", "TensorKernels", "Tokenizer", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "mlm-bench",
            dependencies: [
                "Checkpoint", "Corpus", "Masking", "Model", "TensorKernels", "Tokenizer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/mlm-bench"),

        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus", "Tokenizer"]),
        .testTarget(name: "MaskingTests", dependencies: ["Corpus", "Masking", "Tokenizer"]),
        .testTarget(name: "TensorKernelsTests", dependencies: ["TensorKernels"]),
        .testTarget(name: "ModelTests", dependencies: ["Checkpoint", "Model"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "Model", "TensorKernels", "Tokenizer"]),
        .testTarget(name: "OptimizationTests", dependencies: ["Model", "Optimization"]),
        .testTarget(
            name: "TrainingTests",
            dependencies: ["Checkpoint", "Corpus", "Masking", "Model", "Optimization", "Tokenizer", "Training"]),
        .testTarget(name: "ClassificationTests", dependencies: ["Checkpoint", "Classification", "Corpus", "Model", "Tokenizer"]),
        .testTarget(name: "MLMBenchTests", dependencies: ["mlm-bench"]),
        .testTarget(name: "mlm-adaptTests", dependencies: ["mlm-adapt", "Masking", "Optimization", "TensorKernels", "Training"]),
    ]
)
