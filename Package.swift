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
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
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
            name: "CloudAuth",
            dependencies: [
                "SpotwiseCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "Checkpoints",
            dependencies: [
                "CloudAuth",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "Scheduler",
            dependencies: ["SpotwiseCore", "SpotPolicy"],
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
            name: "Reports",
            dependencies: ["SpotwiseCore", "StateStore"],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "Registry",
            dependencies: ["SpotwiseCore", "StateStore", "Checkpoints"],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "CoordinatorCore",
            dependencies: ["SpotwiseCore", "SpotPolicy", "Scheduler", "StateStore"],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "Coordinator",
            dependencies: [
                "CoordinatorCore",
                "SpotwiseCore",
                "Reports",
                "Registry",
                "Provisioners",
                "SpotPolicy",
                "Scheduler",
                "StateStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "CoordinatorClient",
            dependencies: [
                "SpotwiseCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "Spawning",
            swiftSettings: strictSwift6
        ),
        .target(
            name: "Provisioners",
            dependencies: [
                "SpotwiseCore",
                "Spawning",
                "CloudAuth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "WorkerAgent",
            dependencies: [
                "SpotwiseCore",
                "Spawning",
                "Checkpoints",
                "CloudAuth",
                "CoordinatorClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSwift6
        ),
        .target(
            name: "SpotwiseTesting",
            dependencies: [
                "SpotwiseCore", "SpotPolicy", "Provisioners", "CloudAuth", "Coordinator", "StateStore", "Scheduler",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "SpotwiseCLI",
            dependencies: [
                "SpotwiseCore",
                "SpotPolicy",
                "StateStore",
                "Coordinator",
                "CoordinatorClient",
                "Checkpoints",
                "Provisioners",
                "WorkerAgent",
                "Registry",
                "Reports",
                "CloudAuth",
                "Spawning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "PolicyBenchmark",
            dependencies: ["SpotPolicy"],
            path: "Benchmarks/PolicyBenchmark",
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "PlanBenchmark",
            dependencies: ["SpotPolicy"],
            path: "Benchmarks/PlanBenchmark",
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "DurabilityCheck",
            dependencies: [.product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Benchmarks/DurabilityCheck",
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "FailoverCheck",
            dependencies: [
                "SpotwiseTesting", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Benchmarks/FailoverCheck",
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "SchedulingPassBenchmark",
            dependencies: ["Coordinator", "StateStore", "SpotwiseCore"],
            path: "Benchmarks/SchedulingPassBenchmark",
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "ReportBenchmark",
            dependencies: ["Reports", "StateStore", "SpotwiseCore"],
            path: "Benchmarks/ReportBenchmark",
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "CheckpointBenchmark",
            dependencies: ["Checkpoints", "CloudAuth", .product(name: "Crypto", package: "swift-crypto")],
            path: "Benchmarks/CheckpointBenchmark",
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "DashboardBenchmark",
            dependencies: [
                "Coordinator", "StateStore", "SpotwiseCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Benchmarks/DashboardBenchmark",
            swiftSettings: strictSwift6
        ),
        .executableTarget(
            name: "HeartbeatBenchmark",
            dependencies: [
                "Coordinator", "StateStore", "SpotwiseCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Benchmarks/HeartbeatBenchmark",
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "SpotwiseCoreTests",
            dependencies: ["SpotwiseCore", "SpotwiseTesting", "Spawning"],
            exclude: ["Fixtures"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "StateStoreTests",
            dependencies: ["StateStore", "SpotwiseCore", "SpotwiseTesting"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "CoordinatorCoreTests",
            dependencies: ["CoordinatorCore", "Scheduler", "SpotPolicy", "SpotwiseCore", "StateStore"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: [
                "Coordinator", "CoordinatorClient", "StateStore", "SpotwiseCore", "SpotwiseTesting", "Reports",
                "Provisioners", "CloudAuth",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "ReportsTests",
            dependencies: ["Reports", "StateStore", "SpotwiseCore", "SpotwiseTesting"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "RegistryTests",
            dependencies: ["Registry", "StateStore", "SpotwiseCore", "Checkpoints"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "CloudAuthTests",
            dependencies: ["CloudAuth"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "CheckpointsTests",
            dependencies: ["Checkpoints", "CloudAuth", "SpotwiseTesting"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "WorkerAgentTests",
            dependencies: [
                "WorkerAgent", "Provisioners", "Coordinator", "CoordinatorClient", "StateStore", "SpotwiseCore",
                "SpotwiseTesting", "Checkpoints", "CloudAuth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "ProvisionersTests",
            dependencies: [
                "Provisioners", "SpotwiseCore", "SpotwiseTesting", "CloudAuth", "Spawning",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "SchedulerTests",
            dependencies: ["Scheduler", "SpotPolicy", "SpotwiseCore"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "SpotPolicyTests",
            dependencies: ["SpotPolicy", "SpotwiseCore", "SpotwiseTesting"],
            swiftSettings: strictSwift6
        ),
        .testTarget(
            name: "SpotwiseCLITests",
            dependencies: [
                "SpotwiseCLI", "SpotwiseCore", "SpotwiseTesting", "Registry", "StateStore", "Spawning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift6
        ),
    ]
)
