import ArgumentParser
import Checkpoints
import Foundation

/// Operator tools over the local checkpoint store: list, verify, commit a directory by hand.
struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "List, verify or commit checkpoints in a local checkpoint store.",
        subcommands: [List.self, Verify.self, Commit.self])

    struct StoreOptions: ParsableArguments {
        @Option(help: "The store's root directory.") var root: String = "checkpoints"
        @Option(help: "The job id.") var job: String

        var store: LocalCheckpointStore { LocalCheckpointStore(root: URL(fileURLWithPath: root)) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Committed steps of a job, oldest first.")
        @OptionGroup var options: StoreOptions

        func run() async throws {
            // A mistyped root would otherwise list nothing and exit 0, like a job with no checkpoints.
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: options.root, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                let found =
                    FileManager.default.fileExists(atPath: options.root) ? "is not a directory" : "does not exist"
                FileHandle.standardError.write(
                    Data("error: --root \(options.root) \(found); pass the checkpoint store's directory\n".utf8))
                throw ExitCode(1)
            }
            for step in try await options.store.committedSteps(job: options.job) { print(step) }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Restore the newest committed checkpoint (at or below --step) into a scratch directory, checking every hash."
        )
        @OptionGroup var options: StoreOptions
        @Option(help: "Newest step to consider.") var step: Int?

        func run() async throws {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
                "spotwise-verify-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: scratch) }
            let result = try await options.store.restore(job: options.job, atMost: step, into: scratch)
            for skipped in result.skipped { print("step \(skipped.step): skipped: \(skipped.reason)") }
            guard let restored = result.restored else {
                print("no committed checkpoint of \(options.job) verifies")
                throw ExitCode(1)
            }
            print("step \(restored.step): ok (\(restored.bytes) bytes, manifest \(restored.manifestDigest.prefix(12)))")
        }
    }

    struct Commit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Commit a directory's files as checkpoint --step (manifest written last).")
        @OptionGroup var options: StoreOptions
        @Option(help: "The step.") var step: Int
        @Option(help: "The attempt that wrote it.") var attempt: Int = 1
        @Argument(help: "The directory holding the checkpoint's files.") var directory: String

        func run() async throws {
            let committed = try await options.store.commit(
                job: options.job, attempt: attempt, step: step, from: URL(fileURLWithPath: directory))
            print("\(committed.location): \(committed.bytes) bytes, manifest \(committed.manifestDigest)")
        }
    }
}
