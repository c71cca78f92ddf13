// swift-tools-version:6.0
import PackageDescription

// Modules follow the data flow, and each lists exactly the modules it imports:
// SeededRandom (the one SplitMix64) sits under everything that draws random numbers.
// Tokenizer → Corpus → Masking ───────────────────→ Training ───────────┐
// TensorKernels → Model → Checkpoint, Optimization → Training, Classification → mlm-adapt (CLI)
// Model → SentenceEmbedding (pooled sentence vectors) → FewShot (SetFit, beside Classification) → mlm-adapt
// mlm-bench measures the layers below Training.
// Reporting (run folders, summary.json, report.html, progress; Foundation only) sits below Training and Classification.
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

        .target(name: "SeededRandom"),
        .target(name: "Tokenizer"),
        .target(name: "Tables"),
        .target(name: "Corpus", dependencies: ["SeededRandom", "Tables", "Tokenizer", "CZlib"]),
        .target(name: "Masking", dependencies: ["Corpus", "SeededRandom", "Tokenizer"]),
        .target(name: "CTensorKernels"),
        // Open MPI, loaded at run time (dlopen), for data-parallel training under mpirun.
        .target(name: "CMPI"),
        .target(name: "DataParallel", dependencies: ["CMPI"]),
        .target(name: "TensorKernels", dependencies: ["CBLAS", "CTensorKernels", "SeededRandom"]),
        .target(name: "Model", dependencies: ["SeededRandom", "TensorKernels"]),
        .target(name: "Checkpoint", dependencies: ["Model", "SeededRandom", "TensorKernels", "Tokenizer", "CZlib"]),
        .target(name: "Optimization", dependencies: ["Model", "TensorKernels"]),
        .target(name: "Reporting"),
        .target(
            name: "Training",
            dependencies: [
                "Checkpoint", "Corpus", "DataParallel", "Masking", "Model", "Optimization", "Reporting", "SeededRandom",
                "TensorKernels", "Tokenizer",
            ]),
        .target(
            name: "Classification",
            dependencies: [
                "Checkpoint", "Model", "Optimization", "Reporting", "SeededRandom", "Tables", "TensorKernels", "Tokenizer",
            ]),
        .target(name: "SentenceEmbedding", dependencies: ["Model", "TensorKernels", "Tokenizer"]),
        .target(
            name: "FewShot",
            dependencies: [
                "Checkpoint", "Classification", "Model", "Optimization", "Reporting", "SentenceEmbedding", "TensorKernels",
                "Tokenizer",
            ]),
        .executableTarget(
            name: "mlm-adapt",
            dependencies: [
                "Checkpoint", "Classification", "Corpus", "DataParallel", "FewShot", "Masking", "Model", "Optimization",
                "Reporting", "SentenceEmbedding", "TensorKernels",
                "Tokenizer", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "mlm-bench",
            dependencies: [
                "Checkpoint", "Classification", "Corpus", "FewShot", "Masking", "Model", "Optimization", "Reporting",
                "SeededRandom", "TensorKernels", "Tokenizer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/mlm-bench"),

        .testTarget(name: "SeededRandomTests", dependencies: ["SeededRandom"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus", "SeededRandom", "Tokenizer"]),
        .testTarget(name: "MaskingTests", dependencies: ["Corpus", "Masking", "Tokenizer"]),
        .testTarget(name: "TensorKernelsTests", dependencies: ["SeededRandom", "TensorKernels"]),
        .testTarget(name: "ModelTests", dependencies: ["Checkpoint", "Model"]),
        .testTarget(
            name: "CheckpointTests", dependencies: ["Checkpoint", "Model", "SeededRandom", "TensorKernels", "Tokenizer"]),
        .testTarget(name: "OptimizationTests", dependencies: ["Model", "Optimization"]),
        .testTarget(
            name: "TrainingTests",
            dependencies: [
                "Checkpoint", "Corpus", "DataParallel", "Masking", "Model", "Optimization", "TensorKernels", "Tokenizer", "Training",
            ]),
        .testTarget(
            name: "ClassificationTests",
            dependencies: ["Checkpoint", "Classification", "Corpus", "Model", "Reporting", "SeededRandom", "TensorKernels", "Tokenizer"]),
        .testTarget(name: "ReportingTests", dependencies: ["CZlib", "Reporting"]),
        .testTarget(
            name: "FewShotTests",
            dependencies: ["Checkpoint", "Classification", "FewShot", "Model", "SentenceEmbedding", "Tokenizer"]),
        .testTarget(name: "MLMBenchTests", dependencies: ["mlm-bench"]),
        .testTarget(name: "mlm-adaptTests", dependencies: ["mlm-adapt", "Corpus", "Masking", "Optimization", "TensorKernels", "Training"]),
    ]
)
