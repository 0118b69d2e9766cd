import Checkpoints
import Foundation

// libFuzzer harness: the checkpoint manifest reader, which reads `manifest.json` from the store's
// disk or from S3 (so from anyone who can write there). Whatever it accepts is then checked path by
// path with `CheckpointManifest.isSafe` before any file is touched; both must hold up to any bytes,
// and a path `isSafe` accepts must stay inside the checkpoint directory.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(bytes: data, count: size)
    if let text = String(data: bytes, encoding: .utf8) { checkPathRule(text) }
    guard let manifest = try? CheckpointManifest.read(bytes) else { return 0 }
    if manifest.version > CheckpointManifest.currentVersion {
        fatalError("CheckpointManifestFuzz: accepted a manifest of version \(manifest.version)")
    }
    for entry in manifest.files { checkPathRule(entry.path) }
    return 0
}

/// A path `isSafe` accepts is, read as the file system reads it (bytes split on `/`), relative,
/// without NUL and without an empty, `.` or `..` component, so it stays inside the directory it
/// is relative to. (Swift's own `String` operations compare characters, and a combining mark
/// after `/` hides that `/` from them: so this check looks at bytes only.)
private func checkPathRule(_ path: String) {
    guard CheckpointManifest.isSafe(path) else { return }
    let bytes = Array(path.utf8)
    let slash = UInt8(ascii: "/")
    let dot = UInt8(ascii: ".")
    let components = bytes.split(separator: slash, omittingEmptySubsequences: false)
    let escapes = components.contains { $0.isEmpty || $0.elementsEqual([dot]) || $0.elementsEqual([dot, dot]) }
    if bytes.first == slash || bytes.contains(0) || escapes {
        fatalError("CheckpointManifestFuzz: isSafe accepted \(path.debugDescription), bytes \(bytes)")
    }
    if CheckpointManifest.isSafeName(path) && components.count != 1 {
        fatalError("CheckpointManifestFuzz: isSafeName accepted \(path.debugDescription), which has a '/' byte")
    }
}
