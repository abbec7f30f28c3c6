// swift-tools-version:6.0
// A package that uses csd as a library: it edits a video in a few lines (Sources/EditVideo).
//   swift run -c release --package-path Samples/EditVideo edit-video Samples/red-ball-on-grass.mp4 out/blue.mp4
import PackageDescription

let package = Package(
    name: "EditVideo",
    dependencies: [.package(name: "csd", path: "../..")],
    targets: [
        .executableTarget(
            name: "EditVideo",
            dependencies: [.product(name: "Core", package: "csd"), .product(name: "CSD", package: "csd"), .product(name: "Video", package: "csd")],
            path: "Sources/EditVideo"),
    ],
    swiftLanguageModes: [.v5]
)
