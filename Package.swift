// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "csd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "csd", targets: ["CSDTool"]),
        .executable(name: "csd-bench", targets: ["CSDBench"]),
        .executable(name: "csd-fuzz", targets: ["CSDFuzz"]),
        .library(name: "Core", targets: ["Core"]),
        .library(name: "CSD", targets: ["CSD"]),
        .library(name: "Panorama", targets: ["Panorama"]),
        .library(name: "NeRF", targets: ["NeRF"]),
        .library(name: "Video", targets: ["Video"]),
        .library(name: "World", targets: ["World"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavformat libavcodec libswscale libswresample libavutil",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libswresample-dev", "libavutil-dev"])]),
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .target(name: "CVectorKernels"),
        .target(name: "CThreadPool"),
        .target(name: "Core", dependencies: ["COpenBLAS", "CPNG", "CMalloc", "CVectorKernels", "CThreadPool"],
                resources: [.copy("Resources/clip-tokenizer")]),
        .target(name: "World", dependencies: ["Core"], resources: [.copy("Resources")]),
        .target(name: "CSD", dependencies: ["Core"]),
        .target(name: "Panorama", dependencies: ["Core", "CSD"]),
        .target(name: "Video", dependencies: ["Core", "CSD", "CFFmpeg"]),
        .target(name: "NeRF", dependencies: ["Core", "CSD"]),
        .executableTarget(
            name: "CSDTool",
            dependencies: ["Core", "CSD", "Panorama", "World", "Video", "NeRF", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "CSDBench",
            dependencies: ["Core", "CSD", "NeRF", "Video", "World", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "CSDFuzz", dependencies: ["Core", "NeRF", "Video"]),
        .testTarget(name: "CoreTests", dependencies: ["Core"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CSDToolTests", dependencies: ["CSDTool", "Video"], exclude: ["Fixtures"]),
        .testTarget(name: "WorldTests", dependencies: ["World"], resources: [.copy("Fixtures")]),
        .testTarget(name: "NeRFTests", dependencies: ["NeRF", "World"]),
        .testTarget(name: "VideoTests", dependencies: ["Video", "World"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CSDTests", dependencies: ["CSD"]),
        .testTarget(name: "FuzzTests", dependencies: ["CSDFuzz"]),
        .testTarget(name: "PanoramaTests", dependencies: ["Panorama", "World"]),
    ],
    swiftLanguageModes: [.v5]
)
