// swift-tools-version: 6.1
import PackageDescription

let strictSwift6: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Spotwise",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spotwise", targets: ["SpotwiseCLI"]),
        .library(name: "SpotwiseCore", targets: ["SpotwiseCore"]),
        .library(name: "SpotPolicy", targets: ["SpotPolicy"]),
        .library(name: "StateStore", targets: ["StateStore"]),
        .library(name: "SpotwiseTesting", targets: ["SpotwiseTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
    ],
    targets: [
        .target(
            name: "SpotwiseCore",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "SpotPolicy",
            dependencies: ["SpotwiseCore"],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "StateStore",
            dependencies: [
                "SpotwiseCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
            ],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "SpotwiseTesting",
            dependencies: ["SpotwiseCore", "SpotPolicy"],
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "SpotwiseCLI",
            dependencies: [
                "SpotwiseCore",
                "SpotPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "PolicyBenchmark",
            dependencies: ["SpotPolicy"],
            path: "Benchmarks/PolicyBenchmark",
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "SpotwiseCoreTests",
            dependencies: ["SpotwiseCore", "SpotwiseTesting"],
            exclude: ["Fixtures"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "StateStoreTests",
            dependencies: ["StateStore", "SpotwiseCore", "SpotwiseTesting"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "SpotPolicyTests",
            dependencies: ["SpotPolicy", "SpotwiseCore", "SpotwiseTesting"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "SpotwiseCLITests",
            dependencies: ["SpotwiseCLI", "SpotwiseCore", "SpotwiseTesting"],
            swiftSettings: strictSwift6
        ),
    ]
)
