import Checkpoints
import Foundation
import Testing

/// Found by fuzzing the manifest reader (scripts/fuzz, docs/fuzzing.md): `isSafe` compared Swift
/// characters, and a combining mark after `/` (U+0351 here) makes one character of the two, so a
/// `..` followed by that `/` was not a component to it while the file system reads `..` and
/// leaves the checkpoint directory. Every case here was accepted before the fix.
@Suite struct ManifestPathBytesTests {
    static let hiddenSlash = "/\u{351}"

    @Test(arguments: [
        "..\(hiddenSlash)x",  // `..` then a `/` the characters hid: one level out
        "..\(hiddenSlash)/..\(hiddenSlash)x",
        "\(hiddenSlash)etc/passwd",  // absolute
        "a\0\u{351}b",  // a NUL hidden the same way
        "..\\\u{351}x",  // a backslash hidden the same way
        "a/.\(hiddenSlash)b",
    ])
    func aPathThatLeavesTheDirectoryByteWiseIsRefused(_ path: String) {
        #expect(!CheckpointManifest.isSafe(path), "\(path.debugDescription)")
    }

    @Test func combiningMarksInsideANameAreStillAllowed() {
        #expect(CheckpointManifest.isSafe("a\(Self.hiddenSlash)b"))  // `a`, then the name "\u{351}b"
        #expect(CheckpointManifest.isSafe("caf\u{65}\u{301}/weights.npz"))
        #expect(CheckpointManifest.isSafeName("caf\u{65}\u{301}"))
    }

    @Test func aNameWithAHiddenSlashIsNotOneName() {
        let name = "a\(Self.hiddenSlash)b"
        #expect(!name.contains("/"))  // why the old check (`!name.contains("/")`) let it through
        #expect(!CheckpointManifest.isSafeName(name))
        #expect(CheckpointManifest.isSafeName("step-7"))
    }

    /// The store end to end: a manifest listing `../<U+0351>x`, with a file of the right size and
    /// hash waiting one level up, restored it from outside the checkpoint into a file outside the
    /// restore directory. Now the checkpoint is skipped with the reason.
    @Test func aRestoreNeverFollowsAHiddenDotDot() async throws {
        let root = temporaryDirectory("root")
        let source = temporaryDirectory()
        try writeCheckpointFiles(source, seed: 9)
        let store = LocalCheckpointStore(root: root)
        _ = try await store.commit(job: "j", attempt: 1, step: 5, from: source)
        let escaping = "..\(Self.hiddenSlash)planted"
        try FileManager.default.copyItem(
            at: source.appendingPathComponent("weights.npz"),
            to: root.appendingPathComponent("j/step-0000000005").appendingPathComponent(escaping))
        let manifestURL = root.appendingPathComponent("j/step-0000000005/manifest.json")
        let text = try String(contentsOf: manifestURL, encoding: .utf8)
        try text.replacingOccurrences(of: "\"weights.npz\"", with: "\"..\\/\u{351}planted\"")
            .write(to: manifestURL, atomically: true, encoding: .utf8)

        let parent = temporaryDirectory("restore")
        let result = try await store.restore(job: "j", atMost: nil, into: parent.appendingPathComponent("into"))
        #expect(result.restored == nil)
        #expect(result.skipped.first?.reason.contains("refused path") == true)
        #expect(!FileManager.default.fileExists(atPath: parent.appendingPathComponent("\u{351}planted").path))
    }
}
