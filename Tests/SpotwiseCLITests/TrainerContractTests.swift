import Foundation
import Spawning
import SpotwiseTesting
import Testing

/// The example trainer follows the trainer contract: interrupted 5 times at random steps (killed
/// without notice and stopped with SIGTERM), it ends with byte-identical final weights.
@Suite struct TrainerContractTests {
    /// Runs a Python check script of the repository; its exit status and output (stdout and
    /// stderr together). A `ChildProcess`, so the trainers it starts get a clean signal mask.
    static func runScript(_ path: String) async throws -> (Int32, String) {
        let process = try ChildProcess(
            executable: "/usr/bin/env", arguments: ["python3", RepositoryPaths.url(path).path],
            environment: ProcessInfo.processInfo.environment)
        let lines = await process.waitForEndOfOutput()
        return (await process.waitForExit(), lines.joined(separator: "\n"))
    }

    @Test func theDigitsTrainerResumesToByteIdenticalWeights() async throws {
        let (status, output) = try await Self.runScript("jobs/digits/test_resume.py")
        #expect(status == 0, "\(output)")
        #expect(output.contains("identical final weights: True"), "\(output)")
    }

    /// The data-parallel trainer as a gang: a notice to one rank makes both checkpoint the same
    /// step; resumed twice, the final weights are byte-identical to an uninterrupted 2-rank run,
    /// and 3 ranks' replicas agree.
    @Test func theDataParallelTrainerResumesAsAGangToByteIdenticalWeights() async throws {
        let (status, output) = try await Self.runScript("jobs/digits-ddp/test_gang.py")
        #expect(status == 0, "\(output)")
        #expect(output.contains("final weights byte-identical"), "\(output)")
    }
}
