import Foundation

/// Paths inside the Spotwise checkout, for tests that read example specs, fixtures and docs.
public enum RepositoryPaths {
    /// The repository root, found from this source file's location.
    public static var root: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // SpotwiseTesting
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()
    }

    public static func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// Files directly inside `directory` whose names end with one of `extensions`, sorted.
    public static func files(in directory: String, extensions: [String]) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: url(directory), includingPropertiesForKeys: nil)
            .filter { file in extensions.contains { file.lastPathComponent.hasSuffix(".\($0)") } }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}
