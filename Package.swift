// swift-tools-version:6.0
import PackageDescription

// Module graph (see docs/architecture.md):
// GlassboxCLI ─► Glassbox (umbrella) ─► GlassboxReproductions ─► GlassboxMethods ─► GlassboxModels
//   ─► GlassboxFormats ─► GlassboxTensor ─► CBLAS ─► OpenBLAS;  GlassboxPapers and GlassboxReports are Foundation-only.
let package = Package(
    name: "Glassbox",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Glassbox", targets: ["Glassbox"]),
        .executable(name: "glassbox", targets: ["GlassboxCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "GlassboxTensor", dependencies: ["CBLAS"]),
        .target(name: "GlassboxFormats", dependencies: ["GlassboxTensor"]),
        .target(name: "GlassboxModels", dependencies: ["GlassboxFormats", "GlassboxTensor", "ZIPFoundation"]),
        .target(name: "GlassboxMethods", dependencies: ["GlassboxModels", "GlassboxTensor"]),
        .target(name: "GlassboxPapers", dependencies: ["Yams"]),
        .target(name: "GlassboxReports"),
        .target(
            name: "GlassboxReproductions",
            dependencies: ["GlassboxMethods", "GlassboxModels", "GlassboxPapers", "GlassboxReports", "Yams"]
        ),
        .target(
            name: "Glassbox",
            dependencies: [
                "GlassboxTensor", "GlassboxFormats", "GlassboxModels", "GlassboxMethods",
                "GlassboxPapers", "GlassboxReports", "GlassboxReproductions",
            ]
        ),
        .executableTarget(
            name: "GlassboxCLI",
            dependencies: ["Glassbox", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "GlassboxBench", dependencies: ["Glassbox", "CBLAS"], path: "Benchmarks", exclude: ["pytorch"]),

        .testTarget(name: "GlassboxTensorTests", dependencies: ["GlassboxTensor"]),
        .testTarget(name: "GlassboxFormatsTests", dependencies: ["GlassboxFormats"]),
        .testTarget(name: "GlassboxModelsTests", dependencies: ["GlassboxModels"]),
        .testTarget(name: "GlassboxMethodsTests", dependencies: ["GlassboxMethods"]),
        .testTarget(name: "GlassboxPapersTests", dependencies: ["GlassboxPapers"]),
        .testTarget(name: "GlassboxReportsTests", dependencies: ["GlassboxReports"]),
        .testTarget(name: "GlassboxReproductionsTests", dependencies: ["GlassboxReproductions"]),
    ],
    swiftLanguageModes: [.v6]
)
