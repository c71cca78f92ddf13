// swift-tools-version:6.0
import PackageDescription

// Modules follow the data flow:
// Tokenizer → Corpus → Masking ┐
// TensorKernels → Model → Checkpoint → Training → Classification → CLI / benchmarks
// Reporting (run folders, summary.json, report.html, progress) sits below Training and Classification.
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
        .target(name: "Checkpoint", dependencies: ["Model", "Tokenizer", "CZlib"]),
        // Run folders' names, summary.json, report.html and progress lines: Foundation only.
        .target(name: "Reporting"),
        .target(name: "Training", dependencies: ["Corpus", "Masking", "Model", "Checkpoint", "Reporting"]),
        .target(name: "Classification", dependencies: ["Training", "Reporting"]),
        .executableTarget(
            name: "mlm-adapt",
            dependencies: ["Classification", "Reporting", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "mlm-bench",
            dependencies: ["Classification", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/mlm-bench"),

        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus"]),
        .testTarget(name: "MaskingTests", dependencies: ["Masking", "Tokenizer"]),
        .testTarget(name: "TensorKernelsTests", dependencies: ["TensorKernels"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Checkpoint"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training"]),
        .testTarget(name: "ClassificationTests", dependencies: ["Classification"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "CZlib"]),
        .testTarget(name: "MLMBenchTests", dependencies: ["mlm-bench"]),
    ]
)
