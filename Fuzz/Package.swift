// swift-tools-version:5.4
// The fuzz harnesses (docs/fuzzing.md). Built only by `scripts/fuzz`, with
// `-sanitize=fuzzer,address -parse-as-library`, in its own scratch path (.build-fuzz): libFuzzer
// brings its own `main`, so these executables cannot be part of the root package's normal build.
// The library targets are the root package's own source directories (symlinks under Sources/), so
// the harnesses fuzz the code that ships while this package needs only Yams: depending on the root
// package would resolve its whole graph (NIO, Hummingbird, PostgreSQL) for four small readers.
// Tools version 5.4 on purpose: from 5.5 on, SwiftPM renames an executable's entry point and links
// `main` to `<Target>_main`, which a harness does not have (libFuzzer's `main` is the entry); so the
// Swift 6 language mode and the root package's upcoming features are passed as flags.
import PackageDescription

let strictSwift6: [SwiftSetting] = [
    .unsafeFlags(["-swift-version", "6", "-enable-upcoming-feature", "ExistentialAny"])
]

let package = Package(
    name: "SpotwiseFuzz",
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2")
    ],
    targets: [
        .target(
            name: "SpotwiseCore",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strictSwift6
        ),
        .target(name: "SpotPolicy", dependencies: ["SpotwiseCore"], swiftSettings: strictSwift6),
        // Only the manifest reader of the Checkpoints module: the stores need NIO and swift-crypto.
        .target(name: "Checkpoints", swiftSettings: strictSwift6),
        .executableTarget(name: "JobSpecFuzz", dependencies: ["SpotwiseCore"], swiftSettings: strictSwift6),
        .executableTarget(name: "WorkerBodyFuzz", dependencies: ["SpotwiseCore"], swiftSettings: strictSwift6),
        .executableTarget(name: "CheckpointManifestFuzz", dependencies: ["Checkpoints"], swiftSettings: strictSwift6),
        .executableTarget(name: "SpotTraceFuzz", dependencies: ["SpotPolicy"], swiftSettings: strictSwift6),
        .executableTarget(name: "TimeFuzz", dependencies: ["SpotwiseCore"], swiftSettings: strictSwift6),
    ]
)
