import ArgumentParser
import Foundation
import SpotwiseTesting
import Testing

@testable import SpotwiseCLI

/// The worker container: its entrypoint starts `spotwise worker` with flags that exist, and the
/// build context leaves out build outputs, history, checkpoints, state and secrets.
@Suite struct WorkerContainerTests {
    @Test func theEntrypointsFlagsAreTheWorkersFlags() throws {
        let script = try String(
            contentsOf: RepositoryPaths.url("provisioners/worker-entrypoint.sh"), encoding: .utf8)
        let flags = Set(
            script.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\"" }).filter {
                $0.hasPrefix("--") && $0.count > 2
            }
            .map(String.init))
        #expect(flags.count >= 10)
        var arguments: [String] = []
        for flag in flags.sorted() {
            if flag == "--exit-after-attempt" {
                arguments.append(flag)
                continue
            }
            let samples = ["--market": "spot", "--notice-seconds": "30", "--idle-exit-seconds": "600"]
            arguments += [flag, flag.contains("price") ? "0.36" : samples[flag] ?? "http://x"]
        }
        _ = try WorkerCommand.parse(arguments)
        let attributes = try FileManager.default.attributesOfItem(
            atPath: RepositoryPaths.url("provisioners/worker-entrypoint.sh").path)
        #expect(((attributes[.posixPermissions] as? Int) ?? 0) & 0o111 != 0, "the entrypoint is executable")
    }

    @Test func theBuildContextLeavesOutWhatMustNotShip() throws {
        let ignore = try String(contentsOf: RepositoryPaths.url("provisioners/.dockerignore"), encoding: .utf8)
        let patterns = Set(ignore.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init))
        for needed in [".build/", ".git/", "checkpoints/*", ".env", ".env.*", "*.db", ".spotwise/", ".aws/"] {
            #expect(patterns.contains(needed), "\(needed) is not ignored")
        }
        let dockerfile = try String(contentsOf: RepositoryPaths.url("provisioners/Dockerfile"), encoding: .utf8)
        #expect(dockerfile.contains("--static-swift-stdlib") && dockerfile.contains("ENTRYPOINT"))
        let linked = try FileManager.default.destinationOfSymbolicLink(
            atPath: RepositoryPaths.url("provisioners/Dockerfile.dockerignore").path)
        #expect(linked == ".dockerignore")
    }
}
