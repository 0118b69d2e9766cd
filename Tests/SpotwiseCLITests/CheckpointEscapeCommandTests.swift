import ArgumentParser
import Checkpoints
import Foundation
import SpotwiseCore
import SpotwiseTesting
import Testing

@testable import SpotwiseCLI

/// Issue 14 item 4 through the CLI: `spotwise checkpoint commit/verify/list` and `models show`
/// never follow a symlink out of a local store, refuse missing, empty and out-of-range
/// checkpoints, and `spotwise validate` refuses system directories and disguised paths as
/// `checkpoint.storage` and `workdir`.
@Suite struct CheckpointEscapeCommandTests {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("escape-\(UUID().uuidString)")
    var store: URL { base.appendingPathComponent("store") }
    var outside: URL { base.appendingPathComponent("outside") }

    init() throws {
        for directory in [base.appendingPathComponent("store"), base.appendingPathComponent("outside")] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
    }

    /// A directory holding one file, to commit.
    func source(_ name: String = "source") throws -> URL {
        let directory = base.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("weights of \(name)".utf8).write(to: directory.appendingPathComponent("weights.bin"))
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("optim"), withIntermediateDirectories: true)
        try Data("optimizer".utf8).write(to: directory.appendingPathComponent("optim/state.bin"))
        return directory
    }

    func symlink(_ url: URL, to target: URL) throws {
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target.path)
    }

    func entries(_ url: URL) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    /// What running `command` threw (nil when it succeeded).
    func failure(of command: some AsyncParsableCommand) async -> (any Error)? {
        var command = command
        do {
            try await command.run()
            return nil
        } catch {
            return error
        }
    }

    @Test func checkpointCommitThroughASymlinkedJobDirectoryWritesNothingOutside() async throws {
        try symlink(store.appendingPathComponent("LINK"), to: outside)
        let commit = try CheckpointCommand.Commit.parse([
            "--root", store.path, "--job", "LINK", "--step", "5", try source().path,
        ])
        let error = await failure(of: commit)
        #expect(error as? CheckpointError == .symlinkInStore("LINK"))
        #expect(entries(outside).isEmpty)
    }

    @Test func checkpointVerifyAndListRefuseSymlinkedJobAndStepDirectories() async throws {
        // A good checkpoint outside the store, reached through a step directory and a job directory.
        let elsewhere = LocalCheckpointStore(root: outside)
        _ = try await elsewhere.commit(job: "j", attempt: 1, step: 9, from: try source())
        try FileManager.default.createDirectory(
            at: store.appendingPathComponent("j"), withIntermediateDirectories: true)
        try symlink(
            store.appendingPathComponent("j/step-0000000009"), to: outside.appendingPathComponent("j/step-0000000009"))
        try symlink(store.appendingPathComponent("LINK"), to: outside.appendingPathComponent("j"))

        let verifyStep = try CheckpointCommand.Verify.parse(["--root", store.path, "--job", "j"])
        #expect((await failure(of: verifyStep) as? ExitCode)?.rawValue == 1)
        let list = try CheckpointCommand.List.parse(["--root", store.path, "--job", "LINK"])
        #expect(await failure(of: list) as? CheckpointError == .symlinkInStore("LINK"))
        let verifyJob = try CheckpointCommand.Verify.parse(["--root", store.path, "--job", "LINK"])
        #expect(await failure(of: verifyJob) as? CheckpointError == .symlinkInStore("LINK"))
    }

    @Test func checkpointCommitRefusesAMissingDirectoryAndStepsOutOfRange() async throws {
        let good = try source()
        for (step, refused) in [("-5", CheckpointError.invalidStep(-5)), ("99999999999", .invalidStep(99_999_999_999))]
        {
            let commit = try CheckpointCommand.Commit.parse([
                "--root", store.path, "--job", "j", "--step=\(step)", good.path,
            ])
            #expect(await failure(of: commit) as? CheckpointError == refused)
        }
        let missing = base.appendingPathComponent("never-written")
        let commit = try CheckpointCommand.Commit.parse([
            "--root", store.path, "--job", "j", "--step", "7", missing.path,
        ])
        #expect(await failure(of: commit) as? CheckpointError == .missingSource(missing.path))
        #expect(entries(store).isEmpty)
    }

    @Test func modelsShowDoesNotVerifyAnArtifactReachedThroughASymlink() async throws {
        let committed = try await LocalCheckpointStore(root: outside).commitArtifact(
            job: "job-1", attempt: 1, from: try source())
        let artifact = { (storage: String, location: String) in
            ModelArtifact(
                storage: storage, location: location, manifestDigest: committed.manifestDigest, bytes: committed.bytes)
        }
        // The real thing verifies, so what follows fails for the symlink alone.
        #expect(await ArtifactCheck.verify(artifact("file://outside", committed.location), root: base).verified)

        // A job directory, a model directory and a middle directory that are symlinks out of the store.
        try symlink(store.appendingPathComponent("LINK"), to: outside.appendingPathComponent("job-1"))
        try FileManager.default.createDirectory(
            at: store.appendingPathComponent("job-1"), withIntermediateDirectories: true)
        try symlink(
            store.appendingPathComponent(committed.location), to: outside.appendingPathComponent(committed.location))
        let middle = base.appendingPathComponent("middle")
        try FileManager.default.createDirectory(
            at: middle.appendingPathComponent("job-2"), withIntermediateDirectories: true)
        let copied = middle.appendingPathComponent("job-2/model-attempt-1")
        try FileManager.default.copyItem(at: outside.appendingPathComponent(committed.location), to: copied)
        try FileManager.default.moveItem(
            at: copied.appendingPathComponent("optim"), to: outside.appendingPathComponent("optim"))
        try symlink(copied.appendingPathComponent("optim"), to: outside.appendingPathComponent("optim"))

        for (storage, location, why) in [
            ("file://store", "LINK/model-attempt-1", "'LINK' in the checkpoint store is a symlink"),
            ("file://store", committed.location, "'job-1/model-attempt-1' in the checkpoint store is a symlink"),
            ("file://middle", "job-2/model-attempt-1", "'optim' in the checkpoint store is a symlink"),
        ] {
            let outcome = await ArtifactCheck.verify(artifact(storage, location), root: base)
            #expect(!outcome.verified && outcome.reachable, "\(storage)/\(location): \(outcome.text)")
            #expect(outcome.text.contains(why), "\(outcome.text)")
        }

        // A store whose relative path is a symlink out of --root, and a system directory.
        try symlink(store.appendingPathComponent("escape"), to: outside)
        let escaped = await ArtifactCheck.verify(artifact("file://escape", committed.location), root: store)
        #expect(!escaped.verified && escaped.text.contains("outside the job root"), "\(escaped.text)")
        let system = await ArtifactCheck.verify(artifact("file:///etc", committed.location), root: base)
        #expect(!system.verified && system.reachable && system.text.contains("/etc is a system directory"))
    }

    @Test(arguments: [
        ("storage-system-dir.yaml", "unusable storage URL: /etc is a system directory"),
        ("storage-dot-component.yaml", "unusable storage URL: '.' components are not allowed"),
        ("storage-percent-encoded.yaml", "unusable storage URL: '%' is not allowed"),
        ("workdir-root.yaml", "unusable workdir: / is a top-level directory"),
        ("workdir-system-dir.yaml", "unusable workdir: /etc is a system directory"),
    ])
    func validateRefusesSystemDirectoriesAndDisguisedPaths(fixture: String, problem: String) throws {
        let path = RepositoryPaths.url("Tests/SpotwiseCoreTests/Fixtures/bad/\(fixture)").path
        let report = Validate.report(for: [path], parser: JobSpecParser())
        #expect(report.failed)
        #expect(report.text.contains(problem), "\(report.text)")
    }
}
